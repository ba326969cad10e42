"""The query string every report endpoint takes, validated into a ``ReportQuery``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from reports import selectors
from reports.metrics import INTERVALS, NO_TEAM, UNASSIGNED, ReportQuery, report_time_zone
from reports.models import (
    CATEGORY_LENGTH,
    ID_LENGTH,
    TAG_LENGTH,
    ExportFormat,
    ExportJob,
    ExportStatus,
    Priority,
    Status,
)

DEFAULT_DAYS: Final = 30
MIN_DATE: Final = date(1970, 1, 1)
MAX_DATE: Final = date(2999, 12, 31)
#: How many ``tag`` parameters one report may combine.
MAX_TAGS: Final = 10
#: The parameters that may be repeated (each value narrows the report).
REPEATABLE: Final = frozenset({"tag"})


def normalise_tag(value: str) -> str:
    """A tag as tickets stores it: trimmed, lower-case, accents kept."""
    return value.strip().lower()


def max_days() -> int:
    return int(getattr(settings, "REPORTS_MAX_DAYS", 3660))


class ReportQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """``from``/``to`` are inclusive local dates (``REPORTS_TIME_ZONE``).

    Without ``to`` the period ends today; without ``from`` it is the 30 days ending at
    ``to``. Blank values mean "not given". Unknown parameters are refused, so a typo
    never silently widens a report.
    """

    date_from = serializers.DateField(
        required=False, help_text=_("First day of the period, inclusive (YYYY-MM-DD).")
    )
    date_to = serializers.DateField(
        required=False, help_text=_("Last day of the period, inclusive (YYYY-MM-DD).")
    )
    category = serializers.CharField(required=False, allow_blank=True, max_length=CATEGORY_LENGTH)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=Status.choices, required=False, allow_blank=True)
    assignee_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ID_LENGTH,
        help_text=_('A technician\'s user id, or "none" for unassigned tickets.'),
    )
    team_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ID_LENGTH,
        help_text=_('A team\'s id, or "none" for tickets without a team.'),
    )
    tag = serializers.ListField(
        # Lengths are checked in ``validate_tag``: an error names the parameter, not an item.
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        max_length=MAX_TAGS,
        help_text=_("A tag; repeat it for several: tickets must have all of them."),
    )
    interval = serializers.ChoiceField(
        choices=[(value, value) for value in INTERVALS],
        required=False,
        allow_blank=True,
        help_text=_("Timeline buckets; by default days up to 92 days, weeks beyond."),
    )
    lang = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=_("Language of labels and files (es, en); default: Accept-Language."),
    )

    RENAMED: Final = {"date_from": "from", "date_to": "to"}

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ``from`` is a Python keyword: declared under another name, exposed as ``from``.
        fields = super().get_fields()
        return {self.RENAMED.get(name, name): field for name, field in fields.items()}

    def validate_lang(self, value: str) -> str:
        if not value:
            return value
        try:
            return get_supported_language_variant(value)
        except LookupError:
            codes = ", ".join(code for code, _name in settings.LANGUAGES)
            raise serializers.ValidationError(
                _("Unsupported language. Use one of: %(codes)s.") % {"codes": codes}
            ) from None

    def validate_category(self, value: str) -> str:
        if value and not selectors.category_exists(value):
            raise serializers.ValidationError(_("No ticket has this category."))
        return value

    def validate_assignee_id(self, value: str) -> str:
        if value and value != UNASSIGNED and not selectors.assignee_exists(value):
            raise serializers.ValidationError(_("No technician has this id."))
        return value

    def validate_team_id(self, value: str) -> str:
        if value and value != NO_TEAM and not selectors.team_exists(value):
            raise serializers.ValidationError(_("No team has this id."))
        return value

    def validate_tag(self, values: list[str]) -> list[str]:
        tags = list(dict.fromkeys(tag for tag in map(normalise_tag, values) if tag))
        if any(len(tag) > TAG_LENGTH for tag in tags):
            raise serializers.ValidationError(
                _("A tag has at most %(count)d characters.") % {"count": TAG_LENGTH}
            )
        unknown = sorted(set(tags) - selectors.existing_tags(tags)) if tags else []
        if unknown:
            raise serializers.ValidationError(
                _("No ticket has the tag %(tags)s.") % {"tags": ", ".join(unknown)}
            )
        return tags

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        data = self.initial_data
        allowed = set(self.fields)
        for name in sorted(data):
            if name not in allowed:
                errors[name] = [str(_("Unknown parameter."))]
            elif (
                name not in REPEATABLE and hasattr(data, "getlist") and len(data.getlist(name)) > 1
            ):
                errors[name] = [str(_("Give this parameter once."))]

        tz = report_time_zone()
        today = timezone.now().astimezone(tz).date()
        date_to: date | None = attrs.get("to")
        date_from: date | None = attrs.get("from")
        if date_to is None:
            date_to = max(today, date_from) if date_from else today
        if date_from is None:
            date_from = date_to - timedelta(days=DEFAULT_DAYS - 1)
        for name, value in (("from", date_from), ("to", date_to)):
            if not MIN_DATE <= value <= MAX_DATE:
                errors.setdefault(name, []).append(
                    str(
                        _("Dates must be between %(min)s and %(max)s.")
                        % {"min": MIN_DATE.isoformat(), "max": MAX_DATE.isoformat()}
                    )
                )
        if "to" not in errors and "from" not in errors:
            if date_to < date_from:
                errors["to"] = [str(_("The end date must not be before the start date."))]
            elif (date_to - date_from).days + 1 > max_days():
                errors["to"] = [
                    str(_("The period may span at most %(days)d days.") % {"days": max_days()})
                ]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["from"], attrs["to"] = date_from, date_to
        return attrs

    def to_query(self) -> ReportQuery:
        data = self.validated_data
        return ReportQuery(
            date_from=data["from"],
            date_to=data["to"],
            category=data.get("category") or None,
            priority=data.get("priority") or None,
            status=data.get("status") or None,
            assignee_id=data.get("assignee_id") or None,
            team_id=data.get("team_id") or None,
            tags=tuple(data.get("tag") or ()),
            interval=data.get("interval") or None,
            time_zone=report_time_zone(),
        )


class ExportRequestSerializer(ReportQuerySerializer):
    """``POST exports/``: a ``format`` and the summary's parameters (JSON or a form).

    In JSON, ``tag`` may be a list or one string.
    """

    format = serializers.ChoiceField(
        choices=ExportFormat.choices, help_text=_("The file to make: pdf, xlsx or csv.")
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("tag"), str):
            data = {**data, "tag": [data["tag"]]}
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(self.initial_data, Mapping):
            raise serializers.ValidationError(_("Send an object of parameters."))
        return super().validate(attrs)


class ExportJobSerializer(serializers.ModelSerializer[ExportJob]):
    """A job as its owner sees it; ``download_url`` once the file is ready."""

    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "status",
            "progress",
            "format",
            "filters",
            "language",
            "error",
            "file_name",
            "size",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != ExportStatus.DONE:
            return None
        return reverse("reports-export-job-download", args=[job.pk])


class ExportAcceptedSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.UUIDField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    status_url = serializers.CharField()
