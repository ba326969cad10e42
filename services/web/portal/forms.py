"""The UI's forms. They check what the browser can be told at once (required, lengths,
matching passwords); the APIs check everything else and their field errors are put next
to the same fields with ``show_api_errors``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from portal import conf, labels, uploads
from portal.api import ApiError
from portal.api.client import Upload
from portal.api.types import Category, Person, Ticket
from servidesk_shared.vocabulary import Priority, Role, Status

PASSWORD_MAX = 128
Choices = list[tuple[str, Any]]
BLANK: Choices = [("", _("Any"))]


def show_api_errors(
    form: forms.Form, error: ApiError, renamed: dict[str, str] | None = None
) -> None:
    """Field errors of an API answer next to their fields; the rest at the top of the form."""
    renamed = renamed or {}
    for name, messages in error.fields.items():
        field = renamed.get(name, name)
        for message in messages:
            if field in form.fields:
                form.add_error(field, message)
            else:
                form.add_error(None, message)
    if not error.fields:
        form.add_error(None, error.message)


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


class TicketFilterForm(forms.Form):
    """The list's filters; bad values are dropped (a filter link may be old)."""

    mark_optional = False

    status = forms.ChoiceField(label=_("Status"), required=False, choices=BLANK + Status.choices)
    q = forms.CharField(
        label=_("Search"), required=False, max_length=200, widget=forms.SearchInput()
    )
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=BLANK + Priority.choices
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    assigned = forms.ChoiceField(
        label=_("Assigned to"),
        required=False,
        choices=[("", _("Anyone")), ("me", _("Me")), ("none", _("Nobody"))],
    )
    breached = forms.BooleanField(label=_("Only SLA breached"), required=False)
    ordering = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("", _("Newest first")),
            ("-updated_at", _("Recently updated")),
            ("-priority", _("Priority, urgent first")),
            ("resolution_due", _("Resolution due, soonest first")),
            ("created_at", _("Oldest first")),
        ],
    )

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = category_choices(categories, blank=_("Any"))

    def api_params(self, user_id: str) -> dict[str, str]:
        data = self.cleaned_data if self.is_valid() else {}
        params = {
            name: str(data.get(name) or "")
            for name in ("status", "q", "priority", "category", "ordering")
        }
        assigned = data.get("assigned")
        if assigned == "me":
            params["assignee_id"] = user_id
        elif assigned == "none":
            params["unassigned"] = "true"
        if data.get("breached"):
            params["breached"] = "true"
        return params


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
    """Staff edit what a ticket says; ``version`` is the one they read (a newer one on the
    server is a conflict, not a lost update)."""

    title = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), max_length=20000, widget=forms.Textarea(attrs={"rows": 8})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = forms.ChoiceField(label=_("Category"), required=False)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput())

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101
        field.choices = category_choices(categories, blank=_("No category"))

    @classmethod
    def initial_of(cls, ticket: Ticket) -> dict[str, Any]:
        return {
            "title": ticket.title,
            "description": ticket.description,
            "priority": ticket.priority,
            "category": ticket.category or "",
            "version": ticket.version,
        }

    def api_changes(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in ("title", "description", "priority")}
        data["category"] = self.cleaned_data.get("category") or None
        return data


class ReplyForm(AttachmentsMixin):
    body = forms.CharField(
        label=_("Your message"), max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )


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


class SlaTargetForm(forms.Form):
    first_response_hours = forms.IntegerField(
        label=_("First response within (hours)"), min_value=1, max_value=24 * 365
    )
    resolution_hours = forms.IntegerField(
        label=_("Resolution within (hours)"), min_value=1, max_value=24 * 365
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
