"""``client_for(request)``: the four services' clients, bound to one browser request."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal import conf
from portal.api import http, session, types
from portal.api.errors import ApiError, ServiceUnavailableError, SignInRequiredError
from portal.api.types import (
    ApiKey,
    Attachment,
    BulkAnswer,
    BulkResult,
    Calendar,
    Category,
    Comment,
    Count,
    CsatAnswer,
    ErrorBody,
    HistoryEntry,
    LinkConfirmed,
    LinkStarted,
    Macro,
    Message,
    Notification,
    Page,
    Person,
    Profile,
    Provider,
    SavedView,
    SlaTarget,
    TagCount,
    Team,
    Ticket,
    TokenPair,
    Webhook,
    WebhookDelivery,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

Params = Mapping[str, str | Sequence[str] | None]


@dataclass(frozen=True)
class Upload:
    """A file to send in a multipart field: read in chunks while the request goes out."""

    filename: str
    file: IO[bytes]
    content_type: str = "application/octet-stream"


def _multipart_files(field: str, uploads: Sequence[Upload]) -> list[tuple[str, Any]]:
    return [(field, (u.filename, u.file, u.content_type)) for u in uploads]


def _clean(params: Params | None) -> list[tuple[str, str | int | float | bool | None]]:
    """Query parameters without blanks (the APIs read a blank as "not given" or refuse it)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in (params or {}).items():
        values = [value] if isinstance(value, str) or value is None else list(value)
        pairs += [(name, str(v)) for v in values if v not in (None, "")]
    return pairs


class Connection:
    """Sends calls for one browser request: headers, the token, one retry after a 401."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    # --- tokens -----------------------------------------------------------------------

    def access_token(self) -> str:
        pair = session.stored_pair(self.request)
        if pair is None:
            raise SignInRequiredError
        if session.expires_soon(pair.access):
            pair = self.refresh(pair)
        return pair.access

    def refresh(self, used: TokenPair) -> TokenPair:
        fresh = session.refreshed_pair(self.request, used, self._refresh_call)
        if fresh is None:
            raise SignInRequiredError(expired=True)
        return fresh

    def _refresh_call(self, refresh: str) -> TokenPair | None:
        try:
            response = self.send(
                "accounts", "POST", "auth/token/refresh/", json={"refresh": refresh}, auth=False
            )
        except ServiceUnavailableError:
            raise
        except ApiError as exc:
            if exc.status in (400, 401, 403):
                return None
            raise
        return self.decode("accounts", response, TokenPair)

    # --- calls ------------------------------------------------------------------------

    def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        auth: bool = True,
        timeout: float | None = None,
        form: Mapping[str, str] | None = None,
        files: list[tuple[str, Any]] | None = None,
    ) -> httpx.Response:
        """The service's answer to ``method path`` (relative to its prefix), or an error.
        With ``files``, the body is multipart (``form`` holds its text fields), streamed
        from the files in chunks."""
        with self._stream(
            service,
            method,
            path,
            params=params,
            json=json,
            auth=auth,
            timeout=timeout,
            form=form,
            files=files,
        ) as response:
            response.read()
            return response

    @contextmanager
    def stream(
        self, service: str, path: str, *, params: Params | None = None, timeout: float
    ) -> Iterator[httpx.Response]:
        """A GET whose body is read while the browser downloads it (report files)."""
        with self._stream(
            service, "GET", path, params=params, json=None, auth=True, timeout=timeout
        ) as response:
            yield response

    @contextmanager
    def _stream(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        auth: bool,
        timeout: float | None,
        form: Mapping[str, str] | None = None,
        files: list[tuple[str, Any]] | None = None,
    ) -> Iterator[httpx.Response]:
        url = http.PREFIXES[service] + path
        headers = http.base_headers(self.request)
        attempts = 2 if auth else 1
        for attempt in range(attempts):
            if auth:
                headers["Authorization"] = f"Bearer {self.access_token()}"
            try:
                request = http.client(service).build_request(
                    method,
                    url,
                    params=_clean(params),
                    json=json,
                    data=form,
                    # A retry builds the body again: httpx rewinds each file first.
                    files=files,
                    headers=headers,
                    timeout=http.default_timeout() if timeout is None else timeout,
                )
                response = http.client(service).send(request, stream=True)
            except httpx.HTTPError as exc:
                logger.warning(
                    "api call failed",
                    extra={"service": service, "path": url, "error": type(exc).__name__},
                )
                raise ServiceUnavailableError(service, 0, type(exc).__name__) from exc
            try:
                if response.status_code == 401 and auth:
                    response.read()
                    if attempt == 0:
                        pair = session.stored_pair(self.request)
                        if pair is None:
                            raise SignInRequiredError
                        self.refresh(pair)
                        continue
                    raise SignInRequiredError(expired=True)
                if response.status_code >= 500:
                    response.read()
                    logger.warning(
                        "api call failed",
                        extra={"service": service, "path": url, "status": response.status_code},
                    )
                    raise ServiceUnavailableError(service, response.status_code)
                if response.status_code >= 400:
                    response.read()
                    raise self._error(service, response)
                yield response
                return
            finally:
                response.close()

    def decode(self, service: str, response: httpx.Response, kind: type[T]) -> T:
        """The answer's body as ``kind``; one that does not fit the contract is the
        service failing (logged, and shown as the service being unavailable)."""
        try:
            return types.decode(response.content, kind)
        except msgspec.DecodeError as exc:
            logger.warning(
                "api answer not understood",
                extra={"service": service, "path": response.request.url.path, "error": str(exc)},
            )
            raise ServiceUnavailableError(service, response.status_code, "invalid answer") from exc

    @staticmethod
    def _error(service: str, response: httpx.Response) -> ApiError:
        retry_after = _retry_after(response) if response.status_code == 429 else None
        if response.status_code == 429:
            default = _too_many(retry_after)
        elif response.status_code == 404:
            default = _("Not found.")
        elif response.status_code == 413:
            default = _("What you sent is too large.")
        else:
            default = _("The request was not accepted.")
        try:
            body = types.decode(response.content, ErrorBody)
        except msgspec.DecodeError:
            body = ErrorBody()  # not the contract's shape (a proxy's page): ours only
        error = ApiError(
            service,
            response.status_code,
            body.message or body.detail or default,
            fields=body.extra.fields,
            code=body.extra.code,
        )
        if response.status_code == 429:
            # The gateway's and the APIs' own words are English-only for rate limits.
            error.message = default
            error.retry_after = retry_after
        return error


def _retry_after(response: httpx.Response) -> int | None:
    """``Retry-After`` in seconds (the APIs send seconds, never a date), if sensible."""
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None
    seconds = int(value)
    return seconds if 0 < seconds <= 24 * 3600 else None


def _too_many(wait: int | None) -> str:
    if wait is None:
        return _("Too many attempts. Please wait a moment and try again.")
    if wait <= 90:
        return ngettext(
            "Too many attempts. Please wait %(count)d second and try again.",
            "Too many attempts. Please wait %(count)d seconds and try again.",
            wait,
        ) % {"count": wait}
    minutes = -(-wait // 60)
    return ngettext(
        "Too many attempts. Please wait %(count)d minute and try again.",
        "Too many attempts. Please wait %(count)d minutes and try again.",
        minutes,
    ) % {"count": minutes}


class Service:
    name = ""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(
        self, path: str, kind: type[T], params: Params | None = None, *, auth: bool = True
    ) -> T:
        response = self.connection.send(self.name, "GET", path, params=params, auth=auth)
        return self.connection.decode(self.name, response, kind)

    def post(self, path: str, data: Any, kind: type[T], *, auth: bool = True) -> T:
        response = self.connection.send(self.name, "POST", path, json=data, auth=auth)
        return self.connection.decode(self.name, response, kind)

    def post_files(
        self, path: str, form: Mapping[str, str], files: list[tuple[str, Any]], kind: type[T]
    ) -> T:
        """A multipart POST; files take longer to send than a JSON body."""
        response = self.connection.send(
            self.name,
            "POST",
            path,
            form=form,
            files=files,
            timeout=conf.api_download_timeout(),
        )
        return self.connection.decode(self.name, response, kind)

    def patch(self, path: str, data: Any, kind: type[T]) -> T:
        response = self.connection.send(self.name, "PATCH", path, json=data)
        return self.connection.decode(self.name, response, kind)

    def put(self, path: str, data: Any, kind: type[T]) -> T:
        response = self.connection.send(self.name, "PUT", path, json=data)
        return self.connection.decode(self.name, response, kind)

    def send(self, method: str, path: str, data: Any = None, *, auth: bool = True) -> None:
        """A call whose answer carries nothing the UI reads (often a 204)."""
        self.connection.send(self.name, method, path, json=data, auth=auth)


class Accounts(Service):
    name = "accounts"

    def login(self, username: str, password: str) -> TokenPair:
        data = {"username": username, "password": password}
        return self.post("auth/token/", data, TokenPair, auth=False)

    def register(self, data: dict[str, Any]) -> Profile:
        return self.post("auth/register/", data, Profile, auth=False)

    def logout(self, refresh: str) -> None:
        self.send("POST", "auth/logout/", {"refresh": refresh}, auth=False)

    def social_exchange(self, code: str, nonce: str) -> TokenPair:
        """The pair for the one-time ``code`` of a social login this browser started
        (``nonce`` is the one web handed to accounts when it started)."""
        data = {"code": code, "nonce": nonce}
        return self.post("auth/social/exchange/", data, TokenPair, auth=False)

    def social_providers(self) -> list[str]:
        """The ids of the social logins configured at accounts (``google``, ``facebook``)."""
        providers = self.get("auth/social/providers/", list[Provider], auth=False)
        return [provider.id for provider in providers if provider.id]

    def social_link(self, provider: str) -> str:
        """Where to send the browser to link ``provider`` to the signed-in account."""
        return self.post("me/social/link/", {"provider": provider}, LinkStarted).url

    def social_link_confirm(self, code: str, nonce: str) -> str:
        """Finish a link the provider answered (``?link_code=`` on the profile) as the
        signed-in user, with the nonce this browser started it with; the provider's id.
        accounts refuses (``ApiError.code`` says why) unless this user started it here."""
        data = {"code": code, "nonce": nonce}
        return self.post("me/social/link/confirm/", data, LinkConfirmed).provider

    def password_reset(self, email: str) -> str:
        return self.post("auth/password/reset/", {"email": email}, Message, auth=False).message

    def password_reset_confirm(self, uid: str, token: str, new_password: str) -> None:
        data = {"uid": uid, "token": token, "new_password": new_password}
        self.send("POST", "auth/password/reset/confirm/", data, auth=False)

    def me(self) -> Profile:
        return self.get("me/", Profile)

    def update_me(self, changes: dict[str, Any]) -> Profile:
        return self.patch("me/", changes, Profile)

    def confirm_email(self, token: str) -> Profile:
        return self.post("me/email/confirm/", {"token": token}, Profile)

    def send_email_confirmation(self) -> None:
        self.send("POST", "me/email/send-confirmation/")

    def send_phone_code(self) -> None:
        self.send("POST", "me/phone/send-code/")

    def verify_phone(self, code: str) -> Profile:
        return self.post("me/phone/verify/", {"code": code}, Profile)

    def change_password(self, current_password: str, new_password: str) -> TokenPair:
        data = {"current_password": current_password, "new_password": new_password}
        return self.post("me/password/", data, TokenPair)

    def users(self, params: Params | None = None) -> Page[Profile]:
        return self.get("users/", Page[Profile], params)

    def create_user(self, data: dict[str, Any]) -> Profile:
        return self.post("users/", data, Profile)

    def update_user(self, user_id: str, changes: dict[str, Any]) -> Profile:
        return self.patch(f"users/{user_id}/", changes, Profile)

    # --- API keys (admins) ------------------------------------------------------------

    def api_keys(self, params: Params | None = None) -> Page[ApiKey]:
        """A page of the keys not revoked (expired ones included), newest first."""
        return self.get("api-keys/", Page[ApiKey], params)

    def create_api_key(self, data: dict[str, Any]) -> ApiKey:
        """A new key: the answer carries ``key``, which no later answer shows again."""
        return self.post("api-keys/", data, ApiKey)

    def revoke_api_key(self, key_id: str) -> None:
        self.send("DELETE", f"api-keys/{key_id}/")


#: ``GET …/attachments/``: a bare list or a page of one.
AttachmentsAnswer = list[Attachment] | Page[Attachment]
#: ``GET …/macros/`` and ``GET …/views/``: a bare list or a page of one.
MacrosAnswer = list[Macro] | Page[Macro]
ViewsAnswer = list[SavedView] | Page[SavedView]


CalendarsAnswer = list[Calendar] | Page[Calendar]


def _csat_path(token: str) -> str:
    """The API's path of a rating token; the token is one path segment whatever it holds."""
    return f"csat/{quote(token, safe='')}/"


def _versioned(data: dict[str, Any], version: int | None) -> dict[str, Any]:
    return data if version is None else data | {"version": version}


class Tickets(Service):
    name = "tickets"

    def search(self, params: Params | None = None) -> Page[Ticket]:
        """A page of the tickets the user may see, filtered (``GET /api/tickets/``)."""
        return self.get("", Page[Ticket], params)

    def create(self, data: dict[str, Any], files: Sequence[Upload] = ()) -> Ticket:
        """Open a ticket; with ``files``, as multipart (field ``files``, one part each)."""
        if files:
            form = {name: str(value) for name, value in data.items() if value is not None}
            return self.post_files("", form, _multipart_files("files", files), Ticket)
        return self.post("", data, Ticket)

    def get_ticket(self, ticket_id: str) -> Ticket:
        return self.get(f"{ticket_id}/", Ticket)

    def update(self, ticket_id: str, changes: dict[str, Any], version: int | None = None) -> Ticket:
        """Edit title, description, priority or category; a stale ``version`` is a 409
        with code ``stale_version``."""
        data = dict(changes)
        if version is not None:
            data["version"] = version
        return self.patch(f"{ticket_id}/", data, Ticket)

    def change_status(self, ticket_id: str, status: str, version: int | None = None) -> Ticket:
        data: dict[str, Any] = {"status": status}
        if version is not None:
            data["version"] = version
        return self.post(f"{ticket_id}/status/", data, Ticket)

    def assign(self, ticket_id: str, assignee_id: str | None, version: int | None = None) -> Ticket:
        data: dict[str, Any] = {"assignee_id": assignee_id}
        if version is not None:
            data["version"] = version
        return self.post(f"{ticket_id}/assign/", data, Ticket)

    def comments(self, ticket_id: str, *, limit: int = 500) -> list[Comment]:
        """The whole conversation, oldest first (up to ``limit`` messages)."""
        return self._all(f"{ticket_id}/comments/", Page[Comment], limit)

    def add_comment(
        self, ticket_id: str, body: str, *, internal: bool, files: Sequence[Upload] = ()
    ) -> Comment:
        """Post a reply or an internal note; with ``files``, as multipart (field ``files``)."""
        path = f"{ticket_id}/comments/"
        if files:
            form = {"body": body, "internal": "true" if internal else "false"}
            return self.post_files(path, form, _multipart_files("files", files), Comment)
        return self.post(path, {"body": body, "internal": internal}, Comment)

    def attachments(self, ticket_id: str, *, limit: int = 500) -> list[Attachment]:
        """The files of the ticket and of the comments the user may see (the API leaves out
        the others). The API may answer a list or pages of it."""
        items: list[Attachment] = []
        cursor: str | None = None
        while len(items) < limit:
            found: list[Attachment] | Page[Attachment] = self.get(
                f"{ticket_id}/attachments/",
                AttachmentsAnswer,  # type: ignore[arg-type]  # a union is a valid msgspec type
                {"page_size": "100", "cursor": cursor},
            )
            if isinstance(found, list):
                return found[:limit]
            items += found.results
            cursor = found.next_cursor
            if not cursor:
                break
        return items[:limit]

    def history(self, ticket_id: str, *, limit: int = 200) -> list[HistoryEntry]:
        return self._all(f"{ticket_id}/history/", Page[HistoryEntry], limit)

    def categories(self) -> list[Category]:
        return self.get("categories/", list[Category])

    def create_category(self, data: dict[str, Any]) -> Category:
        return self.post("categories/", data, Category)

    def update_category(self, slug: str, changes: dict[str, Any]) -> Category:
        return self.patch(f"categories/{slug}/", changes, Category)

    def delete_category(self, slug: str) -> None:
        self.send("DELETE", f"categories/{slug}/")

    def sla_targets(self) -> list[SlaTarget]:
        return self.get("sla-targets/", list[SlaTarget])

    def set_sla_target(self, priority: str, first_response: int, resolution: int) -> SlaTarget:
        data = {"first_response_hours": first_response, "resolution_hours": resolution}
        return self.put(f"sla-targets/{priority}/", data, SlaTarget)

    def assignees(self) -> list[Person]:
        return self.get("assignees/", list[Person])

    def clients(self, query: str) -> list[Person]:
        """Active clients whose username, name or email contains ``query`` (staff only)."""
        return self.get("clients/", list[Person], {"q": query})

    def set_available(self, available: bool) -> Person:
        """Turn automatic assignment on or off for the caller (staff)."""
        return self.patch("assignees/me/", {"available": available}, Person)

    # --- teams and tags ---------------------------------------------------------------

    def teams(self) -> list[Team]:
        return self.get("teams/", list[Team])

    def team(self, team_id: str) -> Team:
        return self.get(f"teams/{team_id}/", Team)

    def create_team(self, data: dict[str, Any]) -> Team:
        return self.post("teams/", data, Team)

    def update_team(self, team_id: str, changes: dict[str, Any]) -> Team:
        return self.patch(f"teams/{team_id}/", changes, Team)

    def delete_team(self, team_id: str) -> None:
        self.send("DELETE", f"teams/{team_id}/")

    def tags(self, prefix: str) -> list[TagCount]:
        """Existing tags starting with ``prefix``, the most used first (at most 20)."""
        return self.get("tags/", list[TagCount], {"q": prefix})

    # --- canned responses -------------------------------------------------------------

    def macros(self) -> list[Macro]:
        """The caller's own canned responses and the shared ones."""
        return self._list("macros/", MacrosAnswer)  # type: ignore[arg-type]

    def macro(self, macro_id: str) -> Macro:
        return self.get(f"macros/{macro_id}/", Macro)

    def create_macro(self, data: dict[str, Any]) -> Macro:
        return self.post("macros/", data, Macro)

    def update_macro(self, macro_id: str, changes: dict[str, Any]) -> Macro:
        return self.patch(f"macros/{macro_id}/", changes, Macro)

    def delete_macro(self, macro_id: str) -> None:
        self.send("DELETE", f"macros/{macro_id}/")

    def apply_macro(self, ticket_id: str, macro_id: str, version: int | None = None) -> Ticket:
        """Post the response (placeholders filled by the API) and apply its actions."""
        data = _versioned({"macro_id": macro_id}, version)
        return self.post(f"{ticket_id}/apply-macro/", data, Ticket)

    # --- the queue: bulk actions, saved views, counts, merge --------------------------

    def bulk(self, ids: Sequence[str], action: str, value: Any) -> list[BulkResult]:
        """One action on many tickets; one outcome per id, in the order given."""
        numbers = [int(i) if i.isdigit() else i for i in ids]  # tickets' ids are numbers
        data = {"ids": numbers, "action": action, "value": value}
        return self.post("bulk/", data, BulkAnswer).results

    def views(self) -> list[SavedView]:
        """The caller's saved views and the shared ones, with their counts."""
        return self._list("views/", ViewsAnswer)  # type: ignore[arg-type]

    def create_view(self, data: dict[str, Any]) -> SavedView:
        return self.post("views/", data, SavedView)

    def delete_view(self, view_id: str) -> None:
        self.send("DELETE", f"views/{view_id}/")

    def status_counts(self, params: Params | None = None) -> types.StatusCounts:
        """Tickets per status (and ``total``) matching ``params``, for the caller. Every
        status the API counts is kept, also those added after the contract's three."""
        answer = self.get("status-counts/", dict[str, int | list[str]], params)
        capped = answer.pop("capped", [])
        counts = {key: value for key, value in answer.items() if isinstance(value, int)}
        if not counts.keys() >= types.STATUS_COUNT_KEYS or not isinstance(capped, list):
            raise ServiceUnavailableError(self.name, 200, "invalid answer")
        return types.StatusCounts(counts=counts, capped=frozenset(capped))

    def merge(self, ticket_id: str, into_id: str) -> Ticket:
        """Merge ticket ``ticket_id`` into ``into_id``; the answer is the one merged into."""
        into = int(into_id) if into_id.isdigit() else into_id  # tickets' ids are numbers
        return self.post(f"{ticket_id}/merge/", {"into_id": into}, Ticket)

    # --- business calendars (admins write, staff read) ---------------------------------

    def calendars(self) -> list[Calendar]:
        return self._list("calendars/", CalendarsAnswer)  # type: ignore[arg-type]

    def calendar(self, calendar_id: str) -> Calendar:
        return self.get(f"calendars/{calendar_id}/", Calendar)

    def create_calendar(self, data: dict[str, Any]) -> Calendar:
        return self.post("calendars/", data, Calendar)

    def update_calendar(self, calendar_id: str, changes: dict[str, Any]) -> Calendar:
        return self.patch(f"calendars/{calendar_id}/", changes, Calendar)

    def delete_calendar(self, calendar_id: str) -> None:
        self.send("DELETE", f"calendars/{calendar_id}/")

    # --- satisfaction: the rating link of the resolution mail (no sign-in) -------------

    def csat(self, token: str) -> CsatAnswer:
        """The ticket a rating link is for and its answer so far; a forged or unknown
        token is a 404, an expired one a 410 (code ``expired``)."""
        return self.get(_csat_path(token), CsatAnswer, auth=False)

    def rate(self, token: str, rating: str, comment: str) -> CsatAnswer:
        data = {"rating": rating, "comment": comment}
        return self.post(_csat_path(token), data, CsatAnswer, auth=False)

    def _list(self, path: str, kind: type[list[T] | Page[T]], limit: int = 500) -> list[T]:
        """A list endpoint that answers a bare list or pages of one."""
        items: list[T] = []
        cursor: str | None = None
        while len(items) < limit:
            found = self.get(path, kind, {"page_size": "100", "cursor": cursor})
            if isinstance(found, list):
                return found[:limit]
            items += found.results
            cursor = found.next_cursor
            if not cursor:
                break
        return items[:limit]

    def _all(self, path: str, kind: type[Page[T]], limit: int) -> list[T]:
        items: list[T] = []
        cursor: str | None = None
        while len(items) < limit:
            page = self.get(path, kind, {"page_size": "100", "cursor": cursor})
            items += page.results
            cursor = page.next_cursor
            if not cursor:
                break
        return items[:limit]


class Notifier(Service):
    name = "notifier"

    def feed(self, params: Params | None = None) -> Page[Notification]:
        return self.get("", Page[Notification], params)

    def unread_count(self) -> int:
        return self.get("unread-count/", Count).count

    def mark_read(self, notification_id: str) -> None:
        self.send("POST", f"{notification_id}/read/")

    def mark_all_read(self) -> None:
        self.send("POST", "read-all/")

    # --- webhooks (admins) ------------------------------------------------------------

    def webhooks(self, params: Params | None = None) -> Page[Webhook]:
        return self.get("webhooks/", Page[Webhook], params)

    def webhook(self, webhook_id: str) -> Webhook:
        return self.get(f"webhooks/{webhook_id}/", Webhook)

    def create_webhook(self, data: dict[str, Any]) -> Webhook:
        """A new endpoint: the answer carries its ``secret``, shown this once."""
        return self.post("webhooks/", data, Webhook)

    def update_webhook(self, webhook_id: str, changes: dict[str, Any]) -> Webhook:
        return self.patch(f"webhooks/{webhook_id}/", changes, Webhook)

    def delete_webhook(self, webhook_id: str) -> None:
        self.send("DELETE", f"webhooks/{webhook_id}/")

    def rotate_webhook_secret(self, webhook_id: str) -> Webhook:
        """A new secret (in the answer, shown this once); the old one signs nothing more."""
        return self.post(f"webhooks/{webhook_id}/rotate-secret/", None, Webhook)

    def webhook_deliveries(
        self, webhook_id: str, params: Params | None = None
    ) -> Page[WebhookDelivery]:
        """A page of the endpoint's delivery log, newest first."""
        return self.get(f"webhooks/{webhook_id}/deliveries/", Page[WebhookDelivery], params)

    def redeliver(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Queue the delivery's event again, as a new delivery (202)."""
        path = f"webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/"
        return self.post(path, None, WebhookDelivery)


class Reports(Service):
    name = "reports"

    def summary(self, params: Params) -> dict[str, Any]:
        """The metrics, as the dashboard's template reads them."""
        return self.get("summary/", dict[str, Any], params)


class Api:
    """Everything a view may ask of the four APIs, on behalf of ``request``'s user (made
    by ``client_for``)."""

    def __init__(self, request: HttpRequest) -> None:
        self.connection = Connection(request)
        self.accounts = Accounts(self.connection)
        self.tickets = Tickets(self.connection)
        self.notifier = Notifier(self.connection)
        self.reports = Reports(self.connection)


_API_ATTR = "servidesk_api"


def client_for(request: HttpRequest) -> Api:
    """``request``'s API client: made on first use, then kept on the request (its token
    refreshes and the session it updates are the request's)."""
    found = getattr(request, _API_ATTR, None)
    if found is None:
        found = Api(request)
        setattr(request, _API_ATTR, found)
    return found
