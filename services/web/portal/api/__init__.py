"""The web service's client of the four APIs.

``client_for(request)`` is the request's ``Api``: one small typed client per service, whose
answers are decoded into ``portal.api.types``. Every call carries the signed-in user's
access token (refreshed when it is about to run out), the request id and the browser's
address, and every failure becomes one of the exceptions in ``portal.api.errors``.
"""

from portal.api.client import Api, client_for
from portal.api.errors import ApiError, ServiceUnavailableError, SignInRequiredError

__all__ = ["Api", "ApiError", "ServiceUnavailableError", "SignInRequiredError", "client_for"]
