"""Shapes in and out. Input serializers validate; output serializers only render."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tickets import calendars, csat, macros, sla, teams
from tickets import tags as tagging
from tickets.api.fields import OpaqueIdField, PriorityField
from tickets.api.pagination import TicketPagination
from tickets.models import (
    BODY_MAX_LENGTH,
    CALENDAR_NAME_MAX_LENGTH,
    NUMBER_PREFIX,
    TAG_MAX_LENGTH,
    TEAM_NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    VIEW_NAME_MAX_LENGTH,
    Assignment,
    Attachment,
    BusinessCalendar,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Priority,
    Rating,
    Status,
    Team,
    Ticket,
)
from tickets.user_ids import render_user_id


class MultilineField(serializers.CharField):
    r"""Text of several lines, stored with ``\n`` line ends whatever the sender used (a
    browser's textarea sends ``\r\n``; old mail programs a lone ``\r``)."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        return text.replace("\r\n", "\n").replace("\r", "\n")


def body_field(**kwargs: Any) -> serializers.CharField:
    return MultilineField(max_length=BODY_MAX_LENGTH, trim_whitespace=True, **kwargs)


class CategoryRefField(serializers.SlugRelatedField):  # type: ignore[type-arg]
    """A category by slug; unknown slugs are a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", queryset=Category.objects.all(), **kwargs)


class TeamRefField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A team by id; an unknown id is a 400 naming the field."""

    default_error_messages = {
        "does_not_exist": _("There is no team with id %(pk_value)s."),
        "incorrect_type": _("A team id is a number."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Team.objects.all(), **kwargs)


def tags_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH, allow_blank=True),
        max_length=tagging.MAX_TAGS_PER_TICKET,
        help_text=_("Tags (staff only): trimmed and lower-cased; accents kept. At most %(limit)d.")
        % {"limit": tagging.MAX_TAGS_PER_TICKET},
        **kwargs,
    )


# --- tickets in -----------------------------------------------------------------------


class TicketCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = body_field()
    priority = PriorityField(required=False)
    category = CategoryRefField(required=False, allow_null=True)
    client_id = OpaqueIdField(required=False)
    team_id = TeamRefField(
        source="team",
        required=False,
        allow_null=True,
        help_text=_("Staff only; by default the team of the category."),
    )
    tags = tags_field(required=False)


def files_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        required=False,
        help_text=_(
            "Files to attach (repeat the field for several); each at most "
            "ATTACHMENT_MAX_BYTES, together at most ATTACHMENTS_REQUEST_MAX_BYTES."
        ),
    )


class TicketCreateUploadSerializer(TicketCreateSerializer):
    """``TicketCreateSerializer`` as a multipart form, with ``files``."""

    files = files_field()


class TicketUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = body_field(required=False)
    priority = PriorityField(required=False)
    category = CategoryRefField(required=False, allow_null=True)
    team_id = TeamRefField(source="team", required=False, allow_null=True)
    tags = tags_field(required=False)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("The version you read; a newer one on the server answers 409."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not set(attrs) - {"version"}:
            raise serializers.ValidationError(
                _("Send at least one of title, description, priority, category, team_id, tags.")
            )
        return attrs


class StatusChangeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    status = serializers.ChoiceField(choices=Status.choices)
    version = serializers.IntegerField(required=False, min_value=1)


class AssignSerializer(serializers.Serializer):  # type: ignore[type-arg]
    assignee_id = OpaqueIdField(allow_null=True)
    version = serializers.IntegerField(required=False, min_value=1)


class CommentCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    body = body_field()
    internal = serializers.BooleanField(default=False)


class CommentCreateUploadSerializer(CommentCreateSerializer):
    """``CommentCreateSerializer`` as a multipart form, with ``files``."""

    files = files_field()


class AttachmentUploadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField(allow_empty_file=False)
    comment_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text=_("A comment of this ticket to attach the file to; none: the ticket."),
    )


class DownloadQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    inline = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Ask to show the file in the browser; honoured for PNG, JPEG, GIF and WebP "
            "images only, everything else always downloads."
        ),
    )


# --- tickets out ----------------------------------------------------------------------


class RatingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    rating = serializers.ChoiceField(choices=Rating.choices, read_only=True)
    comment = serializers.CharField(read_only=True)
    rated_at = serializers.DateTimeField(read_only=True)


class TicketSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """The contract's ticket, plus names from the directory and the SLA verdicts.

    ``version`` (the optimistic-concurrency token) is shown to staff only: it moves on
    internal notes too, which a client must not be able to count. ``tags`` too: they
    are the staff's labels.
    """

    number = serializers.CharField(source="reference", read_only=True)
    priority = PriorityField(read_only=True)
    category = serializers.CharField(source="category_slug", read_only=True, allow_null=True)
    client_id = OpaqueIdField(read_only=True)
    assignee_id = OpaqueIdField(read_only=True, allow_null=True)
    client_name = serializers.CharField(read_only=True, allow_null=True, default=None)
    assignee_name = serializers.CharField(read_only=True, allow_null=True, default=None)
    team_id = serializers.IntegerField(read_only=True, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        required=False,
        help_text=_("Staff only: clients never get this field."),
    )
    merged_into_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("The ticket this one was merged into; it can no longer change."),
    )
    first_response_breached = serializers.SerializerMethodField()
    resolution_breached = serializers.SerializerMethodField()
    follow_up_of_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("The closed ticket a client's reply reopened as this one."),
    )
    rating = RatingSerializer(
        read_only=True,
        allow_null=True,
        help_text=_("The client's answer to 'How did we do?': staff and the client see it."),
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "title",
            "description",
            "status",
            "priority",
            "category",
            "client_id",
            "assignee_id",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "first_response_due",
            "resolution_due",
            "first_response_breached",
            "resolution_breached",
            "client_name",
            "assignee_name",
            "team_id",
            "merged_into_id",
            "waiting_since",
            "follow_up_of_id",
            "rating",
            "tags",
            "version",
        ]
        read_only_fields = fields

    def get_first_response_breached(self, ticket: Ticket) -> bool:
        return ticket.first_response_breached(self._now)

    def get_resolution_breached(self, ticket: Ticket) -> bool:
        return ticket.resolution_breached(self._now)

    @property
    def _now(self) -> Any:
        return self._clock[0]

    @property
    def _clock(self) -> tuple[datetime, tzinfo]:
        """``(now, current time zone)``, read once per rendering, not once per ticket.

        ``timezone.localtime`` looks the zone up in an ``asgiref`` local on every call:
        five date-times in a hundred tickets made that a visible share of a list request.
        """
        root = self.root
        if not hasattr(root, "_servidesk_clock"):
            clock = (timezone.now(), timezone.get_current_timezone())
            root._servidesk_clock = clock  # type: ignore[attr-defined]
        return root._servidesk_clock  # type: ignore[attr-defined,no-any-return]

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        """The fields declared above (they are the schema), rendered in one step: the list
        renders up to 100 of these per request and DRF's generic field-by-field path costs
        much more. ``test_ticket_renders_its_declared_fields`` holds the two together."""
        ticket, (now, zone) = instance, self._clock
        data: dict[str, Any] = {
            "id": ticket.pk,
            "number": ticket.reference,
            "title": ticket.title,
            "description": ticket.description,
            "status": ticket.status,
            "priority": Priority(ticket.priority).key,
            "category": ticket.category_slug,
            "client_id": render_user_id(ticket.client_id),
            "assignee_id": render_user_id(ticket.assignee_id),
            "created_at": iso(ticket.created_at, zone),
            "updated_at": iso(ticket.updated_at, zone),
            "first_response_at": iso(ticket.first_response_at, zone),
            "resolved_at": iso(ticket.resolved_at, zone),
            "closed_at": iso(ticket.closed_at, zone),
            "first_response_due": iso(ticket.first_response_due, zone),
            "resolution_due": iso(ticket.resolution_due, zone),
            "first_response_breached": ticket.first_response_breached(now),
            "resolution_breached": ticket.resolution_breached(now),
            "client_name": getattr(ticket, "client_name", None),
            "assignee_name": getattr(ticket, "assignee_name", None),
            "team_id": ticket.team_id,
            "merged_into_id": ticket.merged_into_id,
            "waiting_since": iso(ticket.waiting_since, zone),
            "follow_up_of_id": ticket.follow_up_of_id,
            "rating": None,
        }
        actor = self.context.get("actor")
        if (
            ticket.rating is not None
            and actor is not None
            and (actor.is_staff or actor.id == ticket.client_id)
        ):
            data["rating"] = {
                "rating": ticket.rating,
                "comment": ticket.rating_comment,
                "rated_at": iso(ticket.rated_at, zone),
            }
        if actor is not None and actor.is_staff:
            data["tags"] = tagging.tag_names(ticket)
            data["version"] = ticket.version
        return data


class ClockSerializer(serializers.Serializer):  # type: ignore[type-arg]
    due_at = serializers.DateTimeField(read_only=True)
    state = serializers.ChoiceField(
        choices=["running", "paused", "met", "breached"], read_only=True
    )
    business_seconds_left = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "Business time left until due_at: negative once late and still running, "
            "frozen while paused, null once done."
        ),
    )


class SlaClocksSerializer(serializers.Serializer):  # type: ignore[type-arg]
    calendar_id = serializers.IntegerField(read_only=True, allow_null=True)
    first_response = ClockSerializer(read_only=True)
    resolution = ClockSerializer(read_only=True)


class TicketDetailSerializer(TicketSerializer):
    """One ticket as its page shows it: the list's fields and the SLA's clocks in business
    time (``tickets.sla``), which a list of a hundred would pay for a hundred times."""

    sla = SlaClocksSerializer(read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "sla"]
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        data = super().to_representation(instance)
        now, zone = self._clock
        clocks = sla.clocks(instance, now)
        for name in ("first_response", "resolution"):
            clock: dict[str, Any] = clocks[name]  # type: ignore[assignment]
            clock["due_at"] = iso(clock["due_at"], zone)
        data["sla"] = clocks
        return data


def iso(value: datetime | None, zone: tzinfo) -> str | None:
    """A date-time as DRF writes it: ISO 8601 in ``zone`` (the current time zone), ``Z``
    for UTC."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CommentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    ticket_id = serializers.IntegerField(
        read_only=True,
        help_text=_(
            "The ticket the comment is on: a client's reply to a closed ticket lands on a "
            "new follow-up ticket."
        ),
    )
    author_id = OpaqueIdField(read_only=True)
    author_name = serializers.CharField(read_only=True, allow_null=True, default=None)
    merged_from_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("The ticket this comment came from when it was merged into this one."),
    )
    merged_from_number = serializers.SerializerMethodField(
        help_text=_("That ticket's number (SD-1042); null for a comment written here.")
    )

    class Meta:
        model = Comment
        fields = [
            "id",
            "ticket_id",
            "author_id",
            "body",
            "internal",
            "created_at",
            "author_name",
            "merged_from_id",
            "merged_from_number",
        ]
        read_only_fields = fields

    def get_merged_from_number(self, comment: Comment) -> str | None:
        if comment.merged_from_id is None:
            return None
        number = getattr(comment, "merged_from_number", None)
        if number is None:  # not read with selectors.comment_list: one small query
            number = Ticket.objects.values_list("number", flat=True).get(pk=comment.merged_from_id)
        return f"{NUMBER_PREFIX}{number}"


class AttachmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    comment_id = serializers.IntegerField(read_only=True, allow_null=True)
    uploaded_by = OpaqueIdField(read_only=True)
    content_type = serializers.CharField(
        read_only=True, help_text=_("Sniffed from the content, not taken from the uploader.")
    )

    class Meta:
        model = Attachment
        fields = [
            "id",
            "filename",
            "size",
            "content_type",
            "comment_id",
            "created_at",
            "uploaded_by",
        ]
        read_only_fields = fields


class HistoryEntrySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """``{actor_id, field, from, to, at}``; ``from`` is a Python keyword, hence by hand."""

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {
            "actor_id": OpaqueIdField(read_only=True, allow_null=True),
            "field": serializers.CharField(read_only=True),
            "from": serializers.CharField(read_only=True, allow_null=True),
            "to": serializers.CharField(read_only=True, allow_null=True),
            "at": serializers.DateTimeField(read_only=True),
        }

    def to_representation(self, entry: HistoryEntry) -> dict[str, Any]:
        return {
            "actor_id": render_user_id(entry.actor_id),
            "field": entry.field,
            "from": _history_value(entry.field, entry.from_value),
            "to": _history_value(entry.field, entry.to_value),
            "at": serializers.DateTimeField().to_representation(entry.at),
        }


def _history_value(field: str, value: str | None) -> Any:
    return render_user_id(value) if field == "assignee_id" else value


# --- categories, SLA, directory -------------------------------------------------------


class CategorySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Category
        fields = ["slug", "name", "description", "is_active"]


class CategoryUpdateSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Category
        fields = ["name", "description", "is_active"]
        extra_kwargs = {"name": {"required": False}}


class SlaTargetSerializer(serializers.Serializer):  # type: ignore[type-arg]
    priority = serializers.CharField(read_only=True)
    first_response_hours = serializers.IntegerField(min_value=1, max_value=24 * 365)
    resolution_hours = serializers.IntegerField(min_value=1, max_value=24 * 365)
    is_default = serializers.BooleanField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {
            "priority": Priority(instance.priority).key,
            "first_response_hours": instance.first_response_hours,
            "resolution_hours": instance.resolution_hours,
            "is_default": instance.is_default,
        }


class AssigneeSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    id = OpaqueIdField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = DirectoryUser
        fields = ["id", "username", "name", "role", "available"]
        read_only_fields = fields


class AvailabilitySerializer(serializers.Serializer):  # type: ignore[type-arg]
    available = serializers.BooleanField(
        help_text=_("false: automatic assignment skips you until you turn it back on.")
    )


# --- teams and tags -------------------------------------------------------------------


class CalendarRefField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    default_error_messages = {
        "does_not_exist": _("There is no calendar with id %(pk_value)s."),
        "incorrect_type": _("A calendar id is a number."),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=BusinessCalendar.objects.all(), **kwargs)


class TeamTargetSerializer(serializers.Serializer):  # type: ignore[type-arg]
    first_response_hours = serializers.IntegerField(min_value=1, max_value=24 * 365)
    resolution_hours = serializers.IntegerField(min_value=1, max_value=24 * 365)


class EscalationSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """What happens to a team's ticket when it breaches a target (``watch_sla``)."""

    raise_priority = serializers.BooleanField(required=False, default=False)
    reassign_to_lead = serializers.BooleanField(required=False, default=False)


class TeamSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A team in and out. Writes name every field they change (PATCH: any of them)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=TEAM_NAME_MAX_LENGTH)
    member_ids = serializers.ListField(
        child=OpaqueIdField(), max_length=200, required=False, default=list
    )
    lead_id = OpaqueIdField(required=False, allow_null=True, default=None)
    assignment = serializers.ChoiceField(
        choices=Assignment.choices, required=False, default=Assignment.MANUAL
    )
    category_slugs = serializers.ListField(
        child=serializers.SlugField(max_length=50), max_length=200, required=False, default=list
    )
    calendar_id = CalendarRefField(
        source="calendar",
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The team's business hours; null: the default calendar."),
    )
    sla_targets = serializers.DictField(
        child=TeamTargetSerializer(),
        required=False,
        default=dict,
        help_text=_(
            "The team's own targets by priority (low ... urgent), in business hours; "
            "the others are the desk's."
        ),
    )
    escalation = EscalationSerializer(required=False, default=dict)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError(_("A team needs a name."))
        return value

    def validate_sla_targets(self, value: dict[str, Any]) -> dict[int, tuple[int, int]]:
        unknown = sorted(set(value) - set(Priority.api_keys()))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown priorities: %(keys)s.") % {"keys": ", ".join(unknown)[:200]}
            )
        targets: dict[int, tuple[int, int]] = {}
        for key, hours in value.items():
            if hours["resolution_hours"] < hours["first_response_hours"]:
                raise serializers.ValidationError(
                    _("%(priority)s: resolution cannot be due before the first response.")
                    % {"priority": key}
                )
            targets[Priority.from_key(key)] = (
                hours["first_response_hours"],
                hours["resolution_hours"],
            )
        return targets

    def to_representation(self, team: Team) -> dict[str, Any]:
        return {
            "id": team.pk,
            "name": team.name,
            "member_ids": [render_user_id(user_id) for user_id in teams.member_ids(team)],
            "lead_id": render_user_id(team.lead_id),
            "assignment": team.assignment,
            "category_slugs": teams.category_slugs(team),
            "calendar_id": team.calendar_id,
            "sla_targets": {
                Priority(priority).key: {
                    "first_response_hours": first,
                    "resolution_hours": resolution,
                }
                for priority, (first, resolution) in sorted(
                    teams.sla_targets_of(team).items(), reverse=True
                )
            },
            "escalation": {
                "raise_priority": team.escalate_raise_priority,
                "reassign_to_lead": team.escalate_to_lead,
            },
            "created_at": serializers.DateTimeField().to_representation(team.created_at),
            "updated_at": serializers.DateTimeField().to_representation(team.updated_at),
        }


class TagSuggestionQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=TAG_MAX_LENGTH,
        help_text=_("The start of the tag (any case); blank: the most used tags."),
    )


class TagSuggestionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(read_only=True)
    ticket_count = serializers.IntegerField(read_only=True)


class ClientSearchQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=100,
        help_text=_("Part of the client's username, full name or email (any case)."),
    )


class ClientSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    id = OpaqueIdField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = DirectoryUser
        fields = ["id", "username", "name", "email"]
        read_only_fields = fields


# --- the agent workspace: macros, bulk, saved views, status counts, merge -------------


class MacroSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A canned response in and out (PATCH: any of title, body, shared, actions)."""

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    body = body_field(
        help_text=_(
            "Placeholders: {cliente}/{client}, {numero}/{number}, {tecnico}/{technician}; "
            "nothing else is interpreted."
        )
    )
    shared = serializers.BooleanField(
        required=False, default=False, help_text=_("Offered to all staff; admins only.")
    )
    actions = serializers.DictField(
        required=False,
        default=dict,
        help_text=_(
            "Any of status, priority, team_id (or null), add_tags (a list) and internal "
            "(true: post the body as an internal note)."
        ),
    )
    owner_id = OpaqueIdField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_title(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError(_("A canned response needs a title."))
        return value

    def validate_actions(self, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return macros.clean_actions(value)
        except macros.ActionError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ApplyMacroSerializer(serializers.Serializer):  # type: ignore[type-arg]
    macro_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("The version you read; a newer one on the server answers 409."),
    )


class BulkSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=500,
        help_text=_("Ticket ids, 1 to 500; each is answered on its own, in this order."),
    )
    action = serializers.ChoiceField(
        choices=["assign", "status", "priority", "team", "add_tags", "remove_tags"]
    )
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "assign: a user id or null; status: a status; priority: a priority; team: a "
            "team id or null; add_tags, remove_tags: a list of tags."
        ),
    )


class BulkResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_null=True, help_text=_("Why not; null when ok."))


class BulkResponseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    results = BulkResultSerializer(many=True)


class SavedViewSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A saved view in and out (PATCH: any of name, filters, shared)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=VIEW_NAME_MAX_LENGTH)
    filters = serializers.DictField(
        required=False,
        default=dict,
        help_text=_(
            "The list's query parameters (a string or a list of strings each), ordering included."
        ),
    )
    shared = serializers.BooleanField(
        required=False, default=False, help_text=_("Offered to everyone; admins only.")
    )
    owner_id = OpaqueIdField(read_only=True)
    count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "Tickets it matches now for you, up to 1,000; null if its filters no longer apply."
        ),
    )
    count_capped = serializers.BooleanField(
        read_only=True,
        default=False,
        help_text=_("true: it matches more than `count` (show it as 1,000+)."),
    )
    created_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError(_("A view needs a name."))
        return value

    def validate_filters(self, value: dict[str, Any]) -> dict[str, Any]:
        ordering = value.get("ordering")
        if ordering is not None and ordering not in TicketPagination.orderings:
            raise serializers.ValidationError(
                _("Order by one of: %(choices)s.")
                % {"choices": ", ".join(TicketPagination.orderings)}
            )
        return value


class StatusCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    pending = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    resolved = serializers.IntegerField()
    total = serializers.IntegerField()
    capped = serializers.ListField(
        child=serializers.CharField(),
        help_text=_(
            "The keys whose figure is a lower bound: counts stop at 1,000 per status "
            "(show them as 1,000+)."
        ),
    )


class MergeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    into_id = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text=_("The ticket whose conversation this one continues in."),
    )


# --- the SLA's calendars and the rating link ------------------------------------------


class CalendarSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A business calendar in and out (``tickets.calendars``: the week's and holidays'
    shapes, checked there)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=CALENDAR_NAME_MAX_LENGTH)
    time_zone = serializers.CharField(max_length=64, required=False, default="Europe/Madrid")
    is_default = serializers.BooleanField(required=False, default=False)
    week = serializers.JSONField(
        help_text=_(
            'The seven keys mon ... sun, each a list of ["HH:MM", "HH:MM"] openings ([]: closed).'
        )
    )
    holidays = serializers.JSONField(
        required=False,
        default=list,  # type: ignore[arg-type]
        help_text=_('A list of {"date": "YYYY-MM-DD", "name"}.'),
    )
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise serializers.ValidationError(_("A calendar needs a name."))
        return value

    @staticmethod
    def _clean(cleaner: Any, value: Any) -> Any:
        try:
            return cleaner(value)
        except calendars.CalendarError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_time_zone(self, value: str) -> str:
        return str(self._clean(calendars.clean_time_zone, value))

    def validate_week(self, value: Any) -> dict[str, list[list[str]]]:
        return self._clean(calendars.clean_week, value)  # type: ignore[no-any-return]

    def validate_holidays(self, value: Any) -> list[dict[str, str]]:
        return self._clean(calendars.clean_holidays, value)  # type: ignore[no-any-return]


class RatingAnswerSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """In: ``{rating, comment?}``; out: the link's ticket and the current answer."""

    rating = serializers.ChoiceField(choices=Rating.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=csat.COMMENT_MAX_LENGTH
    )

    def validate_comment(self, value: str) -> str:
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
