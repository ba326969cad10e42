"""The UI's forms. They check what the browser can be told at once (required, lengths,
matching passwords); the APIs check everything else and their field errors are put next
to the same fields with ``show_api_errors``."""

from __future__ import annotations

import itertools
import re
import zoneinfo
from datetime import date
from functools import cache
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from portal import conf, labels, uploads
from portal.api import ApiError
from portal.api.client import Upload
from portal.api.types import WEEKDAYS, Calendar, Category, Macro, Person, SlaTarget, Team, Ticket
from servidesk_shared.events.schemas import EVENT_TYPES
from servidesk_shared.vocabulary import FINAL_STATUSES, Priority, Role, Status

PASSWORD_MAX = 128
Choices = list[tuple[str, Any]]
BLANK: Choices = [("", _("Any"))]
#: The statuses a person may set (only the desk itself closes a ticket).
SETTABLE_STATUSES: Choices = [
    (code, label) for code, label in Status.choices if code not in FINAL_STATUSES
]


def show_api_errors(
    form: forms.Form, error: ApiError, renamed: dict[str, str] | None = None
) -> None:
    """Field errors of an API answer next to their fields; the rest at the top of the form."""
    renamed = {**getattr(form, "api_names", {}), **(renamed or {})}
    for name, messages in error.fields.items():
        field = _field_for(form, name, renamed)
        for message in messages:
            form.add_error(field, message)
    if not error.fields:
        form.add_error(None, error.message)


def _field_for(form: forms.Form, name: str, renamed: dict[str, str]) -> str | None:
    """The form's field for an API error's field name; a nested name (``week.mon.0``)
    falls back to its nearest parent that names a field, else the top of the form."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        field = renamed.get(candidate, candidate)
        if field in form.fields:
            return field
        parts.pop()
    return None


def password_field(label: Any, **kwargs: Any) -> forms.CharField:
    attrs = {"autocomplete": kwargs.pop("autocomplete", "current-password")}
    return forms.CharField(
        label=label,
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs=attrs),
        **kwargs,
    )


class NewPasswordMixin(forms.Form):
    """A new password (``password``) typed twice (``password_again``)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password"), data.get("password_again")
        if first and second and first != second:
            self.add_error("password_again", _("The two passwords do not match."))
        return data


# --- Signing in -------------------------------------------------------------------------


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username or email"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = password_field(_("Password"))


class RegisterForm(NewPasswordMixin):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        help_text=_("Letters, digits and . + - _ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        required=False,
        help_text=_("Optional, for SMS notifications. With the country code, e.g. +34600111222."),
        widget=forms.TelInput(attrs={"autocomplete": "tel"}),
    )
    password = password_field(
        _("Password"),
        autocomplete="new-password",
        help_text=_("At least 10 characters; avoid common words."),
    )
    password_again = password_field(_("Password again"), autocomplete="new-password")
    language = forms.ChoiceField(label=_("Language"), choices=labels.choices(labels.LANGUAGES))

    def api_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "password_again"}
        return {k: v for k, v in data.items() if v != "" or k in ("username", "email", "password")}


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class PasswordResetConfirmForm(NewPasswordMixin):
    password = password_field(
        _("New password"),
        autocomplete="new-password",
        help_text=_("At least 10 characters; avoid common words."),
    )
    password_again = password_field(_("New password again"), autocomplete="new-password")


class PasswordChangeForm(NewPasswordMixin):
    current_password = password_field(_("Current password"))
    password = password_field(_("New password"), autocomplete="new-password")
    password_again = password_field(_("New password again"), autocomplete="new-password")


class ProfileForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("Email"),
        max_length=254,
        help_text=_(
            "A new address takes effect once you open the link we send to it; until then "
            "we keep using the current one."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        required=False,
        help_text=_(
            "With the country code, e.g. +34600111222. We send a code by SMS to verify it."
        ),
        widget=forms.TelInput(attrs={"autocomplete": "tel"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=labels.choices(labels.LANGUAGES))
    notify_email = forms.BooleanField(label=_("Email me about my tickets"), required=False)
    notify_sms = forms.BooleanField(label=_("Send me SMS about my tickets"), required=False)
    current_password = password_field(
        _("Current password"),
        required=False,
        help_text=_("Only needed to change your email address."),
    )

    def api_data(self, *, current_email: str) -> dict[str, Any]:
        """The ``PATCH me/`` body: the email (with the password that proves it is you)
        only when it changes, so saving anything else never touches the address."""
        data = dict(self.cleaned_data)
        password = data.pop("current_password", "")
        if data.get("email", "") == current_email:
            data.pop("email", None)
        elif password:
            data["current_password"] = password
        return data


class PhoneCodeForm(forms.Form):
    """The code of the SMS that verifies the profile's phone number."""

    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data["code"]).split())
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(_("Enter the 6 digits of the code."))
        return code


# --- Attachments ------------------------------------------------------------------------


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files, none included, each checked as Django checks one file (a name,
    not empty)."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        one = super().clean
        return [one(item, initial) for item in items if item]


def file_too_large_message(name: str) -> str:
    return gettext("“%(name)s” is larger than %(max)s, the most a file can be.") % {
        "name": name,
        "max": filesizeformat(conf.attachment_max_bytes()),
    }


def too_many_files_message() -> str:
    count = conf.attachments_max_files()
    return ngettext(
        "Send at most %(count)s file at once.", "Send at most %(count)s files at once.", count
    ) % {"count": count}


def files_too_large_message() -> str:
    return gettext(
        "The files add up to more than %(max)s. Send fewer at a time, or smaller ones."
    ) % {"max": filesizeformat(conf.attachments_request_max_bytes())}


class AttachmentsMixin(forms.Form):
    """An ``attachments`` field for several files, held to the attachment limits. The limits are
    in its help text, and in data attributes for the browser's check before it sends
    anything (servidesk.js); ``refused`` are the files the upload handler skipped."""

    attachments = AttachmentsField(label=_("Attached files"), required=False)

    def __init__(self, *args: Any, refused: uploads.Refusals | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = refused or uploads.Refusals()
        field = self.fields["attachments"]
        count = conf.attachments_max_files()
        field.help_text = ngettext(
            "Up to %(count)s file, of %(per_file)s at most.",
            "Up to %(count)s files, each up to %(per_file)s and %(total)s in all.",
            count,
        ) % {
            "count": count,
            "per_file": filesizeformat(conf.attachment_max_bytes()),
            "total": filesizeformat(conf.attachments_request_max_bytes()),
        }
        field.widget.attrs |= {
            "data-max-files": str(count),
            "data-max-file-bytes": str(conf.attachment_max_bytes()),
            "data-max-total-bytes": str(conf.attachments_request_max_bytes()),
            "data-too-many-files": too_many_files_message(),
            # The script puts each file's name where "%(name)s" is.
            "data-file-too-large": file_too_large_message("%(name)s"),
            "data-files-too-large": files_too_large_message(),
        }

    def clean_attachments(self) -> list[UploadedFile]:
        chosen: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        limit = conf.attachment_max_bytes()
        over = [f.name or "" for f in chosen if (f.size or 0) > limit]
        too_large = [*self.refused.too_large, *over]
        problems = [file_too_large_message(name) for name in too_large]
        if len(chosen) + len(self.refused) > conf.attachments_max_files():
            problems.append(too_many_files_message())
        total = sum(f.size or 0 for f in chosen)
        if self.refused.over_total or total > conf.attachments_request_max_bytes():
            problems.append(files_too_large_message())
        if problems:
            raise forms.ValidationError(problems)
        return chosen

    def uploads(self) -> list[Upload]:
        """The chosen files, to be streamed on to the API."""
        chosen: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        return [
            Upload(f.name or "file", f.file, f.content_type or "application/octet-stream")
            for f in chosen
            if f.file is not None
        ]

    def show_upload_error(self, error: ApiError) -> None:
        """The API's refusal of the files (too large: 413) next to the file field."""
        if error.status == 413 or (not error.fields and error.status == 400 and self.uploads()):
            self.add_error("attachments", error.message)
            return
        # The API names its file fields ``file``, ``files`` or ``files.<n>``.
        renamed = {name: "attachments" for name in error.fields if name.startswith("file")}
        show_api_errors(self, error, renamed=renamed)

    def ask_for_files_again(self) -> None:
        """A browser never fills a file field in again: say so when the form comes back
        with errors after files were chosen."""
        chosen = self.files.getlist("attachments") if self.is_bound and self.files else []
        if self.errors and (chosen or self.refused) and "attachments" not in self.errors:
            self.add_error(
                "attachments",
                gettext("Choose the files again: a form that comes back does not keep them."),
            )


# --- Tickets ----------------------------------------------------------------------------


def category_choices(categories: list[Category], *, blank: Any) -> list[tuple[str, Any]]:
    return [("", blank), *((c.slug, c.name) for c in categories)]


#: As tickets holds tags: at most this many on a ticket, each this long at most.
TAGS_MAX = 20
TAG_MAX_LENGTH = 50


def split_tags(text: str) -> list[str]:
    """Comma-separated tags as the API spells them (trimmed, single-spaced, lower case,
    accents kept), without blanks or repeats, in the order typed."""
    tags: list[str] = []
    for raw in text.split(","):
        tag = " ".join(raw.split()).lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class TagsField(forms.CharField):
    """Tags typed separated by commas; the value is their list. Suggestions of existing
    tags come from ``/tickets/tags/`` (servidesk.js, into the field's datalist)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _("Separate tags with commas, e.g. printer, 2nd floor."))
        super().__init__(max_length=TAGS_MAX * (TAG_MAX_LENGTH + 2), **kwargs)
        self.widget.attrs |= {"autocomplete": "off", "data-tags": "", "autocapitalize": "none"}

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        tags = split_tags(str(super().to_python(value) or ""))
        if any(len(tag) > TAG_MAX_LENGTH for tag in tags):
            raise forms.ValidationError(
                _("A tag can have at most %(limit)d characters."), params={"limit": TAG_MAX_LENGTH}
            )
        if any(not tag.isprintable() for tag in tags):
            raise forms.ValidationError(_("A tag cannot contain control characters."))
        if len(tags) > TAGS_MAX:
            raise forms.ValidationError(_("At most %(limit)d tags."), params={"limit": TAGS_MAX})
        return tags

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value: Any) -> None:
        return  # the limits are checked in ``to_python``, tag by tag


def team_choices(teams: dict[str, str], *, blank: Any) -> Choices:
    """``teams``: names by id."""
    return [("", blank), *teams.items()]


#: The queue's orderings (the API's ``ordering`` values).
ORDERINGS: Choices = [
    ("", _("Newest first")),
    ("-updated_at", _("Recently updated")),
    ("-priority", _("Priority, urgent first")),
    ("resolution_due", _("Resolution due, soonest first")),
    ("first_response_due", _("First response due, soonest first")),
    ("created_at", _("Oldest first")),
    ("updated_at", _("Least recently updated")),
    ("priority", _("Priority, low first")),
]


class TicketFilterForm(forms.Form):
    """The list's filters; bad values are dropped (a filter link may be old). Tags come
    typed in ``tags`` (comma-separated) or one per ``tag`` parameter (a tag's link);
    ``assignee_id`` carries a saved view's assignee other than "me"."""

    mark_optional = False

    status = forms.ChoiceField(label=_("Status"), required=False, choices=BLANK + Status.choices)
    q = forms.CharField(
        label=_("Search"), required=False, max_length=200, widget=forms.SearchInput()
    )
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=BLANK + Priority.choices
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)
    tags = TagsField(
        label=_("Tags"),
        required=False,
        help_text=_("Tickets with all of these tags; separate them with commas."),
    )
    assigned = forms.ChoiceField(
        label=_("Assigned to"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("Me")), ("none", _("Nobody"))],
    )
    assignee_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput())
    breached = forms.BooleanField(label=_("Only SLA breached"), required=False)
    sla = forms.ChoiceField(
        label=_("Service level"),
        required=False,
        choices=BLANK + labels.choices(labels.SLA_FILTERS),
        help_text=_("The first response or resolution clock."),
    )
    ordering = forms.ChoiceField(label=_("Sort by"), required=False, choices=ORDERINGS)

    def __init__(
        self,
        *args: Any,
        categories: list[Category],
        teams: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = category_choices(categories, blank=_("Any"))
        team = self.fields["team"]
        assert isinstance(team, forms.ChoiceField)  # noqa: S101
        team.choices = [
            ("", _("Any")),
            ("mine", _("My teams")),
            ("none", _("No team")),
            *(teams or {}).items(),
        ]
        if isinstance(self.data, QueryDict):
            # A tag's link (``?tag=x``) adds to the tags typed.
            linked = [t for t in self.data.getlist("tag") if t]
            if linked:
                data = self.data.copy()
                data["tags"] = ", ".join([data.get("tags", ""), *linked]).strip(", ")
                self.data = data

    def api_params(self, user_id: str) -> dict[str, str | list[str]]:
        """The ``GET /api/tickets/`` parameters; a field with a bad value is left out."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        params: dict[str, str | list[str]] = {
            name: str(data.get(name) or "")
            for name in ("status", "q", "priority", "category", "sla", "ordering")
        }
        assigned = data.get("assigned")
        if assigned == "me":
            params["assignee_id"] = user_id
        elif assigned == "none":
            params["unassigned"] = "true"
        elif data.get("assignee_id"):
            params["assignee_id"] = str(data["assignee_id"])
        if data.get("breached"):
            params["breached"] = "true"
        if data.get("team"):
            params["team_id"] = str(data["team"])
        if data.get("tags"):
            params["tag"] = list(data["tags"])
        return params


def filters_to_query(filters: dict[str, str | list[str]], user_id: str) -> list[tuple[str, str]]:
    """A saved view's filters (the API's list parameters) as the queue page's query."""

    def one(name: str) -> str:
        value = filters.get(name, "")
        return value[0] if isinstance(value, list) and value else str(value or "")

    query = [
        (name, one(name)) for name in ("status", "q", "priority", "category", "sla", "ordering")
    ]
    assignee = one("assignee_id")
    if assignee and assignee == user_id:
        query.append(("assigned", "me"))
    elif assignee:
        query.append(("assignee_id", assignee))
    if one("unassigned").lower() == "true":
        query.append(("assigned", "none"))
    if one("breached").lower() == "true":
        query.append(("breached", "on"))
    query.append(("team", one("team_id")))
    tags = filters.get("tag", [])
    query += [("tag", tag) for tag in ([tags] if isinstance(tags, str) else tags)]
    return [(name, value) for name, value in query if value]


def queue_query(text: str) -> str:
    """The queue's query string a form sent back (to return to the same filters), without
    its page cursor; anything odd is dropped."""
    data = QueryDict(text.lstrip("?")[:4000], mutable=True)
    data.pop("cursor", None)
    return data.urlencode()


def error_text(form: forms.Form) -> str:
    """All of a form's errors as one sentence (for a message above the page)."""
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


class SavedViewForm(forms.Form):
    """Save the queue's current filters under a name; admins may share it with everyone."""

    name = forms.CharField(label=_("Name of the view"), max_length=100)
    shared = forms.BooleanField(label=_("Share with everyone"), required=False)

    prefix = "view"

    def __init__(self, *args: Any, admin: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not admin:
            del self.fields["shared"]


#: The bulk actions of the queue, as the API names them.
BULK_ACTIONS: dict[str, Any] = {
    "assign": _("Assign"),
    "status": _("Change the status"),
    "priority": _("Change the priority"),
    "team": _("Change the team"),
    "add_tags": _("Add tags"),
    "remove_tags": _("Remove tags"),
}
#: At most this many tickets in one bulk action (the API's limit).
BULK_MAX = 500


class BulkForm(forms.Form):
    """One action on the tickets ticked in the queue (``ids``); the button pressed names
    the action, its field the value. ``number_<id>`` carries each row's number, to name
    the tickets in the outcome."""

    mark_optional = False
    prefix = "bulk"

    action = forms.ChoiceField(choices=list(BULK_ACTIONS.items()))
    assignee = forms.ChoiceField(label=_("Assign to"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=SETTABLE_STATUSES)
    priority = forms.ChoiceField(label=_("Priority"), required=False, choices=Priority.choices)
    team = forms.ChoiceField(label=_("Team"), required=False)
    tags = TagsField(label=_("Tags"), required=False, help_text="")

    def __init__(
        self,
        *args: Any,
        people: list[Person],
        teams: dict[str, str],
        me: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.me = me
        assignee = self.fields["assignee"]
        team = self.fields["team"]
        assert isinstance(assignee, forms.ChoiceField)  # noqa: S101
        assert isinstance(team, forms.ChoiceField)  # noqa: S101
        assignee.choices = [
            ("me", _("Me")),
            ("none", _("Nobody")),
            *((p.id, p.name) for p in people if p.id != me),
        ]
        team.choices = [("none", _("No team")), *teams.items()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        posted = (
            self.data.getlist(self.add_prefix("ids")) if isinstance(self.data, QueryDict) else []
        )
        ids = [i for i in posted if i]
        if not ids:
            raise forms.ValidationError(_("Tick the tickets to change first."))
        if len(ids) > BULK_MAX:
            raise forms.ValidationError(
                _("At most %(limit)d tickets at once."), params={"limit": BULK_MAX}
            )
        if any(len(i) > 64 or not i.replace("-", "").replace("_", "").isalnum() for i in ids):
            raise forms.ValidationError(_("The tickets ticked are not valid."))
        data["ids"] = list(dict.fromkeys(ids))
        action = data.get("action")
        if action in ("add_tags", "remove_tags") and not data.get("tags"):
            self.add_error("tags", _("Type the tags."))
        return data

    def action_and_value(self) -> tuple[str, Any]:
        data = self.cleaned_data
        action = data["action"]
        if action == "assign":
            chosen = data.get("assignee") or "me"
            return action, (self.me if chosen == "me" else None if chosen == "none" else chosen)
        if action == "team":
            team = data.get("team") or "none"
            return action, (None if team == "none" else int(team) if team.isdigit() else team)
        if action in ("add_tags", "remove_tags"):
            return action, list(data["tags"])
        return action, data.get(action) or ""

    def numbers(self) -> dict[str, str]:
        """Each ticked ticket's number, as the page showed it (to name it in the outcome)."""
        return {
            i: str(self.data.get(self.add_prefix(f"number_{i}"), ""))[:32] or i
            for i in self.cleaned_data.get("ids", [])
        }


class TicketCreateForm(AttachmentsMixin):
    """A client's ticket; staff also say whom it is for (``clients``: the client search's
    matches, offered in ``client_id``)."""

    title = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What happened, what you expected, and any error message you saw."),
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.MEDIUM
    )
    category = forms.ChoiceField(label=_("Category"), required=False)

    client_id = forms.ChoiceField(
        label=_("Client"), help_text=_("Find the client with the search above, then choose them.")
    )

    def __init__(
        self,
        *args: Any,
        categories: list[Category],
        clients: list[Person] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = category_choices(categories, blank=_("I don't know"))
        if not categories:
            del self.fields["category"]
        if clients is None:
            del self.fields["client_id"]
        else:
            chooser = self.fields["client_id"]
            assert isinstance(chooser, forms.ChoiceField)  # noqa: S101
            chooser.choices = [("", _("Choose a client")), *map(client_choice, clients)]

    def api_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("attachments", None)
        if not data.get("category"):
            data.pop("category", None)
        return data


def client_choice(person: Person) -> tuple[str, str]:
    label = f"{person.name} <{person.email}>" if person.email else person.name
    return person.id, label


class ClientSearchForm(forms.Form):
    """Staff look a client up before opening a ticket for them (works without scripts)."""

    mark_optional = False
    client_q = forms.CharField(
        label=_("Find the client"),
        max_length=100,
        required=False,
        widget=forms.SearchInput(),
        help_text=_("Part of their name, username or email."),
    )


class TicketEditForm(forms.Form):
    """Staff edit what a ticket says, its team and its tags; ``version`` is the one they
    read (a newer one on the server is a conflict, not a lost update). ``teams`` None:
    the teams could not be read, and the team is left as it is."""

    title = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), max_length=20000, widget=forms.Textarea(attrs={"rows": 8})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = forms.ChoiceField(label=_("Category"), required=False)
    team_id = forms.ChoiceField(label=_("Team"), required=False)
    tags = TagsField(label=_("Tags"), required=False)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput())

    def __init__(
        self,
        *args: Any,
        categories: list[Category],
        teams: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = category_choices(categories, blank=_("No category"))
        if teams is None:
            del self.fields["team_id"]
        else:
            team = self.fields["team_id"]
            assert isinstance(team, forms.ChoiceField)  # noqa: S101
            team.choices = team_choices(teams, blank=_("No team"))

    @classmethod
    def initial_of(cls, ticket: Ticket) -> dict[str, Any]:
        return {
            "title": ticket.title,
            "description": ticket.description,
            "priority": ticket.priority,
            "category": ticket.category or "",
            "team_id": ticket.team_id or "",
            "tags": list(ticket.tags),
            "version": ticket.version,
        }

    def api_changes(self, current: Ticket) -> dict[str, Any]:
        """The PATCH body. The team only when the user changed it from ``current``'s: a
        new category then brings its own team, as the API routes it."""
        data = {name: self.cleaned_data[name] for name in ("title", "description", "priority")}
        data["category"] = self.cleaned_data.get("category") or None
        team = self.cleaned_data.get("team_id") or ""
        if "team_id" in self.fields and team != (current.team_id or ""):
            data["team_id"] = int(team) if team.isdigit() else (team or None)
        data["tags"] = self.cleaned_data.get("tags") or []
        return data


class ReplyForm(AttachmentsMixin):
    body = forms.CharField(
        label=_("Your message"), max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )


class MergeForm(forms.Form):
    """The ticket to merge this one into: its number as shown (SD-1042) or its id."""

    into = forms.CharField(
        label=_("Merge into ticket"),
        max_length=32,
        help_text=_(
            "Its number, e.g. SD-1042. This ticket's messages move there and this one "
            "is closed and can no longer change."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def clean_into(self) -> str:
        value = "".join(str(self.cleaned_data["into"]).split())
        if not value.replace("-", "").isalnum() or not value.isascii():
            raise forms.ValidationError(_("Enter a ticket number such as SD-1042."))
        return value


class ApplyMacroForm(forms.Form):
    """The reply box's canned responses: one is posted (placeholders filled by tickets)
    and its actions applied in one click."""

    mark_optional = False
    macro_id = forms.ChoiceField(label=_("Canned response"))

    def __init__(self, *args: Any, macros: list[Macro], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["macro_id"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = [("", _("Choose one")), *((m.id, m.title) for m in macros)]
        self.macros = macros


class AssignForm(forms.Form):
    assignee_id = forms.ChoiceField(label=_("Assign to"), required=False)

    def __init__(self, *args: Any, people: list[Person], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee_id"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = [("", _("Nobody")), *((p.id, p.name) for p in people)]


# --- Administration ---------------------------------------------------------------------


class UserFilterForm(forms.Form):
    mark_optional = False
    q = forms.CharField(
        label=_("Search"), required=False, max_length=100, widget=forms.SearchInput()
    )
    role = forms.ChoiceField(label=_("Role"), required=False, choices=BLANK + Role.choices)
    is_active = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Any")), ("true", _("Active")), ("false", _("Deactivated"))],
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    email = forms.EmailField(label=_("Email"), max_length=254)
    full_name = forms.CharField(label=_("Full name"), max_length=150, required=False)
    phone = forms.CharField(label=_("Mobile phone"), max_length=32, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.TECHNICIAN)
    password = password_field(
        _("Initial password"),
        autocomplete="new-password",
        help_text=_("Give it to the person; they can change it in their profile."),
    )

    def api_data(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v != ""}


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


# --- Integrations: API keys and webhooks ------------------------------------------------


class ApiKeyForm(forms.Form):
    """A new API key (``POST accounts/api-keys/``): a person's roles but the client's."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses it, e.g. “Inventory sync”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label=_("Role"),
        choices=[(Role.TECHNICIAN, Role.TECHNICIAN.label), (Role.ADMIN, Role.ADMIN.label)],
        initial=Role.TECHNICIAN,
        help_text=_("The key acts with this role's rights."),
    )
    read_only = forms.BooleanField(
        label=_("Read only (it can read but not change anything)"), required=False
    )
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].help_text = gettext(
            "Leave it empty for a key that never expires. Time zone: %(zone)s."
        ) % {"zone": timezone.get_current_timezone_name()}

    def clean_expires_at(self) -> Any:
        expires = self.cleaned_data.get("expires_at")
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError(_("Choose a moment in the future."))
        return expires

    def api_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        expires = data.get("expires_at")
        return {
            "name": data["name"],
            "role": data["role"],
            "read_only": bool(data.get("read_only")),
            "expires_at": expires.isoformat() if expires is not None else None,
        }


#: Every event type (an endpoint subscribed to it gets the ones added later too).
ALL_EVENTS = "*"
#: Event types an endpoint can never subscribe to: a user's one-time code (a secret of
#: theirs), and the invitation request, which notifier does not receive.
EVENTS_NOT_OFFERED = frozenset({"verification.phone_code", "user.invite_requested"})


def webhook_event_choices() -> Choices:
    """ "Every event" and the event types an endpoint may name, each in words."""
    offered = EVENT_TYPES - EVENTS_NOT_OFFERED
    # Those the UI has words for in their order (tickets first), then any newer ones.
    named = [code for code in labels.WEBHOOK_EVENTS if code in offered]
    choices: Choices = [(ALL_EVENTS, _("Every event, also those added later"))]
    for code in [*named, *sorted(offered - set(named))]:
        words = labels.WEBHOOK_EVENTS.get(code)
        choices.append((code, f"{words} ({code})" if words else code))
    return choices


class WebhookForm(forms.Form):
    """A webhook endpoint (``notifications/webhooks/``), new or changed."""

    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        help_text=_(
            "Where Servidesk sends a signed POST for each event, e.g. https://example.com/hooks/servidesk."
        ),
        widget=forms.URLInput(attrs={"autocomplete": "off", "inputmode": "url"}),
    )
    events = forms.MultipleChoiceField(label=_("Events"), widget=forms.CheckboxSelectMultiple)
    active = forms.BooleanField(label=_("Active (send deliveries)"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        events: Any = self.fields["events"]
        events.choices = webhook_event_choices()
        events.error_messages["required"] = _("Choose at least one event, or every event.")

    @classmethod
    def initial_of(cls, webhook: Any) -> dict[str, Any]:
        return {"url": webhook.url, "events": list(webhook.events), "active": webhook.active}

    def clean_events(self) -> list[str]:
        chosen: list[str] = self.cleaned_data["events"]
        return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen

    def api_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"url": data["url"], "events": data["events"], "active": bool(data["active"])}


class CategoryCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    slug = forms.SlugField(
        label=_("Short code"),
        max_length=50,
        help_text=_("Lower-case letters, digits and hyphens; it cannot be changed later."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CategoryEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    is_active = forms.BooleanField(label=_("Offered for new tickets"), required=False)


#: A team's SLA targets are business hours: at most a year's worth.
TARGET_HOURS_MAX = 24 * 365


def _whole(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


class TeamForm(forms.Form):
    """A team: its members among the technicians and admins, a lead among them, how it
    hands out tickets, the categories routed to it, its business calendar, its own SLA
    targets per priority (business hours) and what happens at a breach. ``calendars``
    None: they could not be read, and the team's calendar is left as it is."""

    name = forms.CharField(label=_("Name"), max_length=100)
    member_ids = forms.MultipleChoiceField(
        label=_("Members"), required=False, widget=forms.CheckboxSelectMultiple
    )
    lead_id = forms.ChoiceField(label=_("Lead"), required=False)
    assignment = forms.ChoiceField(
        label=_("Assignment of new tickets"),
        choices=labels.choices(labels.ASSIGNMENT_RULES),
        help_text=_(
            "Automatic rules choose only members who are available for automatic assignment."
        ),
    )
    category_slugs = forms.MultipleChoiceField(
        label=_("Categories routed to this team"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    calendar_id = forms.ChoiceField(
        label=_("Business calendar"),
        required=False,
        help_text=_("The hours its SLA targets count. None chosen: the default calendar."),
    )
    escalate_raise_priority = forms.BooleanField(
        label=_("Raise the priority by one level"), required=False
    )
    escalate_reassign_to_lead = forms.BooleanField(
        label=_("Reassign the ticket to the team's lead"), required=False
    )

    #: The API's names of the nested fields (its errors name them so).
    api_names = {
        "escalation.raise_priority": "escalate_raise_priority",
        "escalation.reassign_to_lead": "escalate_reassign_to_lead",
        "escalation": "escalate_raise_priority",
        **{
            f"sla_targets.{p}.{kind}_hours": f"sla_{p}_{kind}_hours"
            for p in Priority.values
            for kind in ("first_response", "resolution")
        },
        **{f"sla_targets.{p}": f"sla_{p}_first_response_hours" for p in Priority.values},
    }

    def __init__(
        self,
        *args: Any,
        people: list[Person],
        categories: list[Category],
        calendars: list[Calendar] | None = None,
        defaults: list[SlaTarget] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        members = self.fields["member_ids"]
        lead = self.fields["lead_id"]
        routed = self.fields["category_slugs"]
        assert isinstance(members, forms.MultipleChoiceField)  # noqa: S101
        assert isinstance(lead, forms.ChoiceField)  # noqa: S101
        assert isinstance(routed, forms.MultipleChoiceField)  # noqa: S101
        members.choices = [(p.id, p.name) for p in people]
        lead.choices = [("", _("No lead")), *((p.id, p.name) for p in people)]
        routed.choices = [(c.slug, c.name) for c in categories]
        if calendars is None:
            del self.fields["calendar_id"]
        else:
            calendar = self.fields["calendar_id"]
            assert isinstance(calendar, forms.ChoiceField)  # noqa: S101
            calendar.choices = [
                ("", _("The default calendar")),
                *((c.id, c.name) for c in calendars),
            ]
        by_priority = {target.priority: target for target in defaults or []}
        for priority, label in Priority.choices:
            default = by_priority.get(priority)
            for kind, words in (
                ("first_response", _("First response (business hours)")),
                ("resolution", _("Resolution (business hours)")),
            ):
                field = forms.IntegerField(
                    label=words,
                    required=False,
                    min_value=1,
                    max_value=TARGET_HOURS_MAX,
                )
                hours = getattr(default, f"{kind}_hours", None) if default else None
                if hours is not None:
                    field.widget.attrs["placeholder"] = gettext("Default: %(hours)s") % {
                        "hours": hours
                    }
                field.priority = priority  # type: ignore[attr-defined]  # for the template
                field.priority_label = label  # type: ignore[attr-defined]
                self.fields[f"sla_{priority}_{kind}_hours"] = field

    def target_rows(self) -> list[tuple[str, Any, forms.BoundField, forms.BoundField]]:
        """``(priority, its label, first response field, resolution field)``, in order."""
        return [
            (
                priority,
                label,
                self[f"sla_{priority}_first_response_hours"],
                self[f"sla_{priority}_resolution_hours"],
            )
            for priority, label in Priority.choices
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lead = data.get("lead_id")
        if lead and lead not in (data.get("member_ids") or []):
            self.add_error("lead_id", _("The lead must be one of the members."))
        if data.get("escalate_reassign_to_lead") and not lead:
            self.add_error(
                "escalate_reassign_to_lead",
                _("Choose a lead first: breached tickets would go to them."),
            )
        for priority in Priority.values:
            first = f"sla_{priority}_first_response_hours"
            resolution = f"sla_{priority}_resolution_hours"
            given = [data.get(first) is not None, data.get(resolution) is not None]
            if any(given) and not all(given):
                missing = first if not given[0] else resolution
                self.add_error(
                    missing,
                    _("Give both targets of this priority, or neither to use the defaults."),
                )
            elif all(given) and data[resolution] < data[first]:
                self.add_error(resolution, _("Resolution cannot be due before the first response."))
        return data

    @classmethod
    def initial_of(cls, team: Team) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": team.name,
            "member_ids": list(team.member_ids),
            "lead_id": team.lead_id or "",
            "assignment": team.assignment,
            "category_slugs": list(team.category_slugs),
            "calendar_id": team.calendar_id or "",
            "escalate_raise_priority": team.escalation.raise_priority,
            "escalate_reassign_to_lead": team.escalation.reassign_to_lead,
        }
        for priority, target in team.sla_targets.items():
            initial[f"sla_{priority}_first_response_hours"] = _whole(target.first_response_hours)
            initial[f"sla_{priority}_resolution_hours"] = _whole(target.resolution_hours)
        return initial

    def api_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["lead_id"] = data.get("lead_id") or None
        targets: dict[str, dict[str, int]] = {}
        for priority in Priority.values:
            first = data.pop(f"sla_{priority}_first_response_hours", None)
            resolution = data.pop(f"sla_{priority}_resolution_hours", None)
            if first is not None and resolution is not None:
                targets[priority] = {"first_response_hours": first, "resolution_hours": resolution}
        data["sla_targets"] = targets
        data["escalation"] = {
            "raise_priority": bool(data.pop("escalate_raise_priority", False)),
            "reassign_to_lead": bool(data.pop("escalate_reassign_to_lead", False)),
        }
        if "calendar_id" in self.fields:
            chosen = data.get("calendar_id") or ""
            data["calendar_id"] = int(chosen) if chosen.isdigit() else (chosen or None)
        else:
            data.pop("calendar_id", None)
        return data


PLACEHOLDERS_HELP = _(
    "You can use {cliente} (the client's name), {numero} (the ticket number, e.g. "
    "SD-1042) and {tecnico} (your name); they are filled in when the response is applied."
)


class MacroForm(forms.Form):
    """A canned response: its text and what applying it also does to the ticket."""

    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(
        label=_("Text"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=PLACEHOLDERS_HELP,
    )
    shared = forms.BooleanField(label=_("Shared with all staff"), required=False)
    internal = forms.BooleanField(
        label=_("Post it as an internal note (not seen by the client)"), required=False
    )
    status = forms.ChoiceField(
        label=_("Then set the status"),
        required=False,
        choices=[("", _("Leave as it is")), *SETTABLE_STATUSES],
    )
    priority = forms.ChoiceField(
        label=_("Then set the priority"),
        required=False,
        choices=[("", _("Leave as it is")), *Priority.choices],
    )
    team_id = forms.ChoiceField(label=_("Then set the team"), required=False)
    add_tags = TagsField(label=_("Then add the tags"), required=False)

    def __init__(self, *args: Any, teams: dict[str, str], admin: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not admin:
            del self.fields["shared"]
        team = self.fields["team_id"]
        assert isinstance(team, forms.ChoiceField)  # noqa: S101
        team.choices = [("", _("Leave as it is")), *teams.items()]

    @classmethod
    def initial_of(cls, macro: Macro) -> dict[str, Any]:
        actions = macro.actions
        return {
            "title": macro.title,
            "body": macro.body,
            "shared": macro.shared,
            "internal": actions.internal,
            "status": actions.status or "",
            "priority": actions.priority or "",
            "team_id": actions.team_id or "",
            "add_tags": list(actions.add_tags),
        }

    def api_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        actions: dict[str, Any] = {}
        for name in ("status", "priority"):
            if data.get(name):
                actions[name] = data[name]
        team = data.get("team_id") or ""
        if team:
            actions["team_id"] = int(team) if team.isdigit() else team
        if data.get("add_tags"):
            actions["add_tags"] = list(data["add_tags"])
        if data.get("internal"):
            actions["internal"] = True
        body: dict[str, Any] = {"title": data["title"], "body": data["body"], "actions": actions}
        if "shared" in self.fields:
            body["shared"] = bool(data.get("shared"))
        return body


class AvailabilityForm(forms.Form):
    available = forms.BooleanField(
        label=_("Available for automatic assignment"),
        required=False,
        help_text=_("Turn it off while you are away: your teams' rules then skip you."),
    )


class SlaTargetForm(forms.Form):
    first_response_hours = forms.IntegerField(
        label=_("First response within (business hours)"), min_value=1, max_value=24 * 365
    )
    resolution_hours = forms.IntegerField(
        label=_("Resolution within (business hours)"), min_value=1, max_value=24 * 365
    )


class ReportFilterForm(forms.Form):
    """The report query; its field names are the API's (``from`` and ``to`` included)."""

    mark_optional = False

    category = forms.ChoiceField(label=_("Category"), required=False)
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=BLANK + Priority.choices
    )
    assignee_id = forms.ChoiceField(label=_("Technician"), required=False)

    def __init__(
        self, *args: Any, categories: list[Category], people: list[Person], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        dates = {
            "from": forms.DateField(
                label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
            ),
            "to": forms.DateField(
                label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
            ),
        }
        self.fields = {**dates, **self.fields}
        category = self.fields["category"]
        assignee = self.fields["assignee_id"]
        assert isinstance(category, forms.ChoiceField)  # noqa: S101
        assert isinstance(assignee, forms.ChoiceField)  # noqa: S101
        category.choices = category_choices(categories, blank=_("Any"))
        assignee.choices = [
            ("", _("Anyone")),
            ("none", _("Unassigned")),
            *((p.id, p.name) for p in people),
        ]


#: The longest comment a client may leave with a rating (the API's limit).
RATING_COMMENT_MAX = 2000


class RatingForm(forms.Form):
    """The answer to "How did we do?" of a rating link: the button pressed names the
    rating; the comment is optional."""

    rating = forms.ChoiceField(label=_("Your answer"), choices=labels.choices(labels.RATINGS))
    comment = forms.CharField(
        label=_("Anything you want to tell us?"),
        required=False,
        max_length=RATING_COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("It is sent with your answer (up to 2,000 characters)."),
    )


# --- Business calendars -----------------------------------------------------------------

#: The weekdays as a calendar's ``week`` names them, in the UI's words.
WEEKDAY_LABELS: dict[str, Any] = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
HOLIDAYS_MAX = 400
HOLIDAY_NAME_MAX = 100
#: Between the two times of an opening: a hyphen, an en or em dash, "a" or "to".
_DASHES = "-\u2013\u2014"
_OPENING = re.compile(rf"^(\d{{1,2}}):(\d{{2}})\s*(?:[{_DASHES}]|a|to)\s*(\d{{1,2}}):(\d{{2}})$")
_HOLIDAY = re.compile(
    rf"^(\d{{4}}-\d{{2}}-\d{{2}})(?:\s*[,;:{_DASHES}]?\s+|\s*[,;:{_DASHES}]\s*|$)(.*)$"
)


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """The IANA time zones (``Europe/Madrid``...), sorted, without legacy aliases."""
    zones = zoneinfo.available_timezones() - {"localtime", "Factory"}
    names = sorted(z for z in zones if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return [("UTC", "UTC"), *((z, z.replace("_", " ")) for z in names)]


def _minutes(hours: str, minutes: str, *, end: bool) -> int | None:
    h, m = int(hours), int(minutes)
    if end and (h, m) == (24, 0):
        return 24 * 60
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def _hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def parse_openings(text: str) -> list[list[str]]:
    """``"9:00-14:00, 15:00-18:00"`` as ``[["09:00", "14:00"], ["15:00", "18:00"]]``
    (sorted; blank: closed all day). Raises ``ValidationError`` naming the bad part."""
    spans: list[tuple[int, int]] = []
    for raw in re.split(r"[,;]", text):
        part = " ".join(raw.split())
        if not part:
            continue
        found = _OPENING.match(part)
        start = _minutes(found[1], found[2], end=False) if found else None
        end = _minutes(found[3], found[4], end=True) if found else None
        if start is None or end is None:
            raise forms.ValidationError(
                _("“%(part)s” is not an opening such as 09:00-14:00."), params={"part": part}
            )
        if end <= start:
            raise forms.ValidationError(
                _("“%(part)s” ends before it starts."), params={"part": part}
            )
        spans.append((start, end))
    spans.sort()
    for (_start, previous_end), (start, _end) in itertools.pairwise(spans):
        if start < previous_end:
            raise forms.ValidationError(_("The openings of a day may not overlap."))
    return [[_hhmm(start), _hhmm(end)] for start, end in spans]


def format_openings(openings: list[list[str]]) -> str:
    return ", ".join(f"{start}-{end}" for start, end in openings)


def parse_holidays(text: str) -> list[dict[str, str]]:
    """One holiday a line, ``2026-12-25 Christmas``: as ``[{"date", "name"}]`` by date."""
    holidays: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = " ".join(raw.split())
        if not line:
            continue
        found = _HOLIDAY.match(line)
        day: date | None = None
        if found:
            try:
                day = date.fromisoformat(found[1])
            except ValueError:
                day = None
        if found is None or day is None:
            problems.append(
                gettext("Line %(line)d: start with a date such as 2026-12-25.") % {"line": number}
            )
            continue
        name = found[2].strip()
        if len(name) > HOLIDAY_NAME_MAX or not name.isprintable():
            problems.append(
                gettext("Line %(line)d: the name can have at most %(limit)d characters.")
                % {"line": number, "limit": HOLIDAY_NAME_MAX}
            )
            continue
        if day.isoformat() in holidays:
            problems.append(
                gettext("Line %(line)d: %(date)s is listed twice.")
                % {"line": number, "date": day.isoformat()}
            )
            continue
        holidays[day.isoformat()] = name
    if len(holidays) > HOLIDAYS_MAX:
        problems.append(gettext("At most %(limit)d holidays.") % {"limit": HOLIDAYS_MAX})
    if problems:
        raise forms.ValidationError(problems)
    return [{"date": day, "name": holidays[day]} for day in sorted(holidays)]


class CalendarForm(forms.Form):
    """A business calendar: its name, time zone, the openings of each weekday (several a
    day) and its holidays; the default one serves teams without a calendar of their own."""

    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), initial="Europe/Madrid")
    is_default = forms.BooleanField(
        label=_("Default calendar"),
        required=False,
        help_text=_("Teams without a calendar of their own use it. Only one calendar is."),
    )
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        max_length=HOLIDAYS_MAX * (HOLIDAY_NAME_MAX + 14),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One a line: the date and its name, e.g. 2026-12-25 Christmas."),
    )

    api_names = {
        **{f"week.{day}": day for day in WEEKDAYS},
        "week": "mon",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = self.fields["time_zone"]
        assert isinstance(zone, forms.ChoiceField)  # noqa: S101
        zone.choices = time_zone_choices()
        for day in WEEKDAYS:
            self.fields[day] = forms.CharField(
                label=WEEKDAY_LABELS[day],
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
            )

    def day_fields(self) -> list[forms.BoundField]:
        return [self[day] for day in WEEKDAYS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for day in WEEKDAYS:
            if day in data:
                try:
                    data[f"week_{day}"] = parse_openings(data[day])
                except forms.ValidationError as exc:
                    self.add_error(day, exc)
        if "holidays" in data:
            try:
                data["holiday_list"] = parse_holidays(data["holidays"])
            except forms.ValidationError as exc:
                self.add_error("holidays", exc)
        return data

    @classmethod
    def initial_of(cls, calendar: Calendar) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": calendar.name,
            "time_zone": calendar.time_zone,
            "is_default": calendar.is_default,
            "holidays": "\n".join(
                f"{h.date.isoformat()} {h.name}".strip() for h in calendar.holidays
            ),
        }
        for day in WEEKDAYS:
            initial[day] = format_openings(calendar.week.get(day, []))
        return initial

    def api_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "time_zone": data["time_zone"],
            "is_default": bool(data.get("is_default")),
            "week": {day: data[f"week_{day}"] for day in WEEKDAYS},
            "holidays": data["holiday_list"],
        }

    def show_api_errors(self, error: ApiError) -> None:
        """The API's errors next to the fields; a holiday's names its line."""
        fields: dict[str, list[str]] = {}
        for name, said in error.fields.items():
            parts = name.split(".")
            if parts[0] == "holidays" and len(parts) > 1 and parts[1].isdigit():
                line = int(parts[1]) + 1
                said = [  # noqa: PLW2901
                    gettext("Holiday %(line)d: %(message)s") % {"line": line, "message": m}
                    for m in said
                ]
            fields[name] = said
        show_api_errors(self, ApiError(error.service, error.status, error.message, fields=fields))
