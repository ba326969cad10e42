"""Teams, the routing table (category -> team) and automatic assignment.

Admins write teams (``team_create``, ``team_update``, ``team_delete``); each write sends
``signals.team_changed`` so the outbox publishes ``team.created|updated|deleted``.

A ticket gets its category's team when it is opened and when its category changes
(``team_for_category``). A team's ``assignment`` rule then picks an assignee for a new
ticket, and for a reopened one that has none (``choose_assignee``):

- ``manual``: nobody; someone takes it or an admin assigns it.
- ``round_robin``: the next member in turn after the one who got the last ticket.
- ``least_open``: the member with the fewest open tickets (ties: the next in turn).

Only members who are active technicians or admins in the directory and have not turned
off their availability are chosen. ``choose_assignee`` locks the team's row, so tickets
opened at the same time into one team take their turns one after the other (a fair
split), and each one sees the others' assignments when it counts open tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from servidesk_shared.errors import ApplicationError
from servidesk_shared.vocabulary import OPEN_STATUSES
from tickets import calendars, signals, sla
from tickets.models import (
    Assignment,
    BusinessCalendar,
    Category,
    DirectoryUser,
    Role,
    SlaTarget,
    Team,
    TeamMember,
    Ticket,
)


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(_("The data sent is not valid."), extra={"fields": {field: [message]}})


# --- reads ----------------------------------------------------------------------------


def team_list() -> list[Team]:
    """Every team by name, with its members' ids, its categories' slugs and its own SLA
    targets (4 queries)."""
    return list(
        Team.objects.prefetch_related("members", "categories", "sla_targets").order_by("name", "id")
    )


def team_get(team_id: int) -> Team:
    return Team.objects.prefetch_related("members", "categories", "sla_targets").get(pk=team_id)


def member_ids(team: Team) -> list[str]:
    return [member.user_id for member in team.members.all()]


def category_slugs(team: Team) -> list[str]:
    return sorted(category.slug for category in team.categories.all())


def team_ids_of(user_id: str) -> QuerySet[TeamMember, Any]:
    """The ids of the teams ``user_id`` is a member of ("my teams"), as a subquery: a
    filter on it is one statement, not a read of the ids first."""
    return TeamMember.objects.filter(user_id=user_id).values("team_id")


def team_for_category(category: Category | None) -> Team | None:
    if category is None or category.team_id is None:
        return None
    return Team.objects.filter(pk=category.team_id).first()


# --- writes (admins) ------------------------------------------------------------------


@dataclass(frozen=True)
class TeamData:
    name: str
    member_ids: Sequence[str]
    lead_id: str | None
    assignment: str
    category_slugs: Sequence[str]
    #: The SLA (issue 19): the team's calendar (None: the default), its targets by
    #: priority rank as ``(first response hours, resolution hours)`` (replacing the team's
    #: own; ``{}``: the desk's), and its escalation rule.
    calendar: BusinessCalendar | None = None
    sla_targets: dict[int, tuple[int, int]] = field(default_factory=dict)
    escalate_raise_priority: bool = False
    escalate_to_lead: bool = False


#: The SLA's settings of a team, as ``team_update`` takes them (``changes`` keys).
SLA_CHANGES: Final = frozenset(
    {"calendar", "sla_targets", "escalate_raise_priority", "escalate_to_lead"}
)


def _write_targets(team: Team, targets: dict[int, tuple[int, int]]) -> None:
    for first, resolution in targets.values():
        if resolution < first:
            raise _field_error(
                "sla_targets", _("Resolution cannot be due before the first response.")
            )
    SlaTarget.objects.filter(team=team).exclude(priority__in=list(targets)).delete()
    for priority, (first, resolution) in targets.items():
        SlaTarget.objects.update_or_create(
            team=team,
            priority=priority,
            defaults={"first_response_hours": first, "resolution_hours": resolution},
        )


def sla_targets_of(team: Team) -> dict[int, tuple[int, int]]:
    """The team's own targets by priority rank (prefetched by ``team_get``/``team_list``)."""
    return {
        row.priority: (row.first_response_hours, row.resolution_hours)
        for row in team.sla_targets.all()
    }


def _check_people(*, member_ids: Sequence[str], lead_id: str | None) -> None:
    """Members must be active technicians or admins; the lead must be a member."""
    wanted = set(member_ids)
    found = set(
        DirectoryUser.objects.filter(
            pk__in=wanted, is_active=True, role__in=(Role.TECHNICIAN, Role.ADMIN)
        ).values_list("pk", flat=True)
    )
    missing = sorted(wanted - found)
    if missing:
        raise _field_error(
            "member_ids",
            _("These ids are not active technicians or admins: %(ids)s.")
            % {"ids": ", ".join(missing)},
        )
    if lead_id is not None and lead_id not in wanted:
        raise _field_error("lead_id", _("The lead must be one of the team's members."))


def _categories(slugs: Sequence[str]) -> list[Category]:
    categories = list(Category.objects.filter(slug__in=set(slugs)))
    unknown = sorted(set(slugs) - {category.slug for category in categories})
    if unknown:
        raise _field_error(
            "category_slugs",
            _("There is no category with these slugs: %(slugs)s.") % {"slugs": ", ".join(unknown)},
        )
    return categories


def _unique_name(name: str, *, exclude: int | None = None) -> None:
    teams = Team.objects.filter(name__iexact=name)
    if exclude is not None:
        teams = teams.exclude(pk=exclude)
    if teams.exists():
        raise _field_error("name", _("A team with this name already exists."))


def _write_members(team: Team, member_ids: Sequence[str]) -> None:
    TeamMember.objects.filter(team=team).exclude(user_id__in=member_ids).delete()
    TeamMember.objects.bulk_create(
        [TeamMember(team=team, user_id=user_id) for user_id in dict.fromkeys(member_ids)],
        ignore_conflicts=True,
    )


def _route(team: Team, categories: Sequence[Category]) -> None:
    """Make ``categories`` exactly the ones routed to ``team`` (a category routed to
    another team moves here: a category has one team)."""
    Category.objects.filter(team=team).exclude(pk__in=[c.pk for c in categories]).update(team=None)
    Category.objects.filter(pk__in=[c.pk for c in categories]).update(team=team)


@transaction.atomic
def team_create(*, data: TeamData) -> Team:
    _unique_name(data.name)
    _check_people(member_ids=data.member_ids, lead_id=data.lead_id)
    categories = _categories(data.category_slugs)
    now = timezone.now()
    team = Team.objects.create(
        name=data.name,
        lead_id=data.lead_id,
        assignment=data.assignment,
        calendar=data.calendar,
        escalate_raise_priority=data.escalate_raise_priority,
        escalate_to_lead=data.escalate_to_lead,
        created_at=now,
        updated_at=now,
    )
    _write_members(team, data.member_ids)
    _route(team, categories)
    _write_targets(team, data.sla_targets)
    calendars.forget()
    team = team_get(team.pk)
    signals.team_changed.send(sender=Team, team=team, change="created")
    return team


@transaction.atomic
def team_update(*, team_id: int, changes: dict[str, Any]) -> Team:
    """Change any of name, members, lead, assignment, categories and the SLA's settings
    (``SLA_CHANGES``; given keys only)."""
    team = Team.objects.select_for_update().get(pk=team_id)
    current_members = list(team.members.values_list("user_id", flat=True))
    members = list(changes.get("member_ids", current_members))
    lead_id = changes.get("lead_id", team.lead_id)
    if "member_ids" in changes and "lead_id" not in changes and lead_id not in members:
        lead_id = None  # the lead left the team: no lead, rather than a refusal
    if "name" in changes:
        _unique_name(changes["name"], exclude=team.pk)
        team.name = changes["name"]
    _check_people(member_ids=members, lead_id=lead_id)
    team.lead_id = lead_id
    if "assignment" in changes:
        team.assignment = changes["assignment"]
    if "category_slugs" in changes:
        _route(team, _categories(changes["category_slugs"]))
    if "member_ids" in changes:
        _write_members(team, members)
    if "sla_targets" in changes:
        _write_targets(team, changes["sla_targets"])
    for name in ("calendar", "escalate_raise_priority", "escalate_to_lead"):
        if name in changes:
            setattr(team, name, changes[name])
    team.updated_at = timezone.now()
    team.save()
    if {"calendar", "sla_targets"} & set(changes):
        # Another calendar or other targets: the team's open tickets' due times move.
        calendars.forget()
        sla.recompute_open(Ticket.objects.filter(team=team))
    team = team_get(team.pk)
    signals.team_changed.send(sender=Team, team=team, change="updated")
    return team


@transaction.atomic
def team_delete(*, team_id: int) -> None:
    """Delete a team: its tickets and categories keep no team (``SET NULL``); its open
    tickets' due times move to the desk's targets and calendar."""
    team = team_get(team_id)
    signals.team_changed.send(sender=Team, team=team, change="deleted")
    open_ids = list(
        Ticket.objects.filter(team=team, status__in=OPEN_STATUSES).values_list("pk", flat=True)
    )
    team.delete()
    calendars.forget()
    # Its tickets now count in the desk's targets and the default calendar.
    sla.recompute_open(Ticket.objects.filter(pk__in=open_ids))


# --- assignment -----------------------------------------------------------------------


def _turn_order(members: Sequence[str], last: str) -> list[str]:
    """``members`` starting after ``last`` (all of them, from the first, if ``last`` is not
    one of them)."""
    if last in members:
        start = members.index(last) + 1
        return [*members[start:], *members[:start]]
    return list(members)


def choose_assignee(*, team_id: int) -> str | None:
    """Pick the assignee of a ticket entering team ``team_id`` by its rule, and record
    the turn. Call it inside the ticket's write transaction: it locks the team's row
    until that transaction ends."""
    team = Team.objects.select_for_update().filter(pk=team_id).first()
    if team is None or team.assignment == Assignment.MANUAL:
        return None
    members = list(
        TeamMember.objects.filter(team=team).order_by("id").values_list("user_id", flat=True)
    )
    eligible = set(
        DirectoryUser.objects.filter(
            pk__in=members,
            is_active=True,
            available=True,
            role__in=(Role.TECHNICIAN, Role.ADMIN),
        ).values_list("pk", flat=True)
    )
    turn = _turn_order(members, team.last_assignee_id)
    in_turn = [user_id for user_id in turn if user_id in eligible]
    if not in_turn:
        return None
    if team.assignment == Assignment.LEAST_OPEN:
        load = dict(
            Ticket.objects.filter(assignee_id__in=in_turn, status__in=OPEN_STATUSES)
            .values("assignee_id")
            .annotate(open_count=Count("id"))
            .values_list("assignee_id", "open_count")
        )
        # min() keeps the first of equals: ties go to the next in turn.
        chosen = min(in_turn, key=lambda user_id: load.get(user_id, 0))
    else:
        chosen = in_turn[0]
    Team.objects.filter(pk=team.pk).update(last_assignee_id=chosen)
    return chosen
