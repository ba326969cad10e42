"""OpenAPI: accounts' authentication class is simplejwt's bearer scheme."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class AccountsJWTScheme(SimpleJWTScheme):  # type: ignore[no-untyped-call]
    target_class = "users.authentication.AccountsJWTAuthentication"
