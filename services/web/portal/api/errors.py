"""What a call to an API can end in, other than success."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

#: How the UI names each service when it is unavailable.
SERVICE_LABELS: dict[str, Promise] = {
    "accounts": _("Accounts and sign-in"),
    "tickets": _("Tickets"),
    "notifier": _("Notifications"),
    "reports": _("Reports"),
}


class ApiError(Exception):
    """An API answered with an error (4xx): ``message`` and per-field ``fields`` from the
    contract's error shape ``{"message", "extra": {"fields": {name: [str]}}}``."""

    def __init__(
        self,
        service: str,
        status: int,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{service} answered {status}: {message}")
        self.service = service
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code
        #: Seconds to wait before trying again (a 429's ``Retry-After``), when given.
        self.retry_after = retry_after


class ServiceUnavailableError(ApiError):
    """The service did not answer in time, refused the connection, failed (5xx) or gave
    an answer that does not fit the contract."""

    def __init__(self, service: str, status: int = 0, detail: str = "") -> None:
        super().__init__(service, status, detail or f"{service} is unavailable")

    @property
    def label(self) -> str:
        return str(SERVICE_LABELS.get(self.service, self.service))


class SignInRequiredError(Exception):
    """No signed-in user, or their session can no longer be refreshed."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("sign-in required")
        self.expired = expired
