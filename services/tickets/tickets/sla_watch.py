"""One pass of ``watch_sla``: the warnings, breaches, escalations and auto-closes now due.

A pass takes the tickets whose ``next_check_at`` has come (the partial index
``ticket_next_check``: only tickets with something pending are in it), locked with
``SKIP LOCKED``, earliest first, at most ``BATCH_SIZE``; for each it does what
``tickets.sla.moments`` says is due and sets the next moment. Everything of a pass,
events included (the outbox), commits in one transaction, so:

- a watcher killed mid-pass leaves nothing behind and the next pass does it all again;
- two watchers never take the same ticket (``SKIP LOCKED``), and a row per alert under a
  unique constraint (``SlaAlert``) refuses a second one of the same ticket, clock, kind and
  cycle whatever happens: each is published once.

A warning whose clock is also past its due time when the pass sees it (the watcher was
away) is not sent: the breach says more. At a breach, the ticket's team's escalation rule
raises the priority by one and/or gives the ticket to the lead; the history names the
rule (``ESCALATION_ACTOR``) and ``ticket.updated``/``ticket.assigned`` follow the breach
with no actor. A resolved ticket ``AUTO_CLOSE_DAYS`` after its resolution is closed
(``AUTO_CLOSE_ACTOR``, ``ticket.closed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import selectors, signals, sla, tags
from tickets.models import (
    DirectoryUser,
    HistoryEntry,
    Priority,
    Role,
    SlaAlert,
    Status,
    Team,
    Ticket,
)

BATCH_SIZE: Final = 500
#: The history's actor for what the escalation rule and the auto-close did.
ESCALATION_ACTOR: Final = "sla:escalation"
AUTO_CLOSE_ACTOR: Final = "sla:auto_close"
SYSTEM_ACTORS: Final = (ESCALATION_ACTOR, AUTO_CLOSE_ACTOR)


@dataclass
class PassResult:
    examined: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    closed: int = 0
    #: Alerts another watcher had already written (refused by the unique constraint).
    duplicates: int = 0
    tickets: list[int] = field(default_factory=list)


def run_pass(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> PassResult:
    """Do what is due at ``now`` for up to ``batch_size`` tickets, in one transaction."""
    now = now or timezone.now()
    result = PassResult()
    with transaction.atomic():
        due = list(
            Ticket.objects.select_for_update(skip_locked=True)
            .filter(next_check_at__lte=now)
            .order_by("next_check_at")[:batch_size]
        )
        if not due:
            return result
        table = sla.TargetTable.load()
        # The events' snapshots name each ticket's tags: one query for the batch, not one
        # per ticket (bench/sla_watch.py measured 500 of them a pass).
        names = tags.names_by_ticket([ticket.pk for ticket in due])
        for ticket in due:
            ticket.tag_names = names[ticket.pk]  # type: ignore[attr-defined]
        team_ids = {ticket.team_id for ticket in due if ticket.team_id is not None}
        teams = {team.pk: team for team in Team.objects.filter(pk__in=team_ids)}
        for ticket in due:
            _handle(ticket, now=now, table=table, teams=teams, result=result)
            result.tickets.append(ticket.pk)
        result.examined = len(due)
    return result


def _handle(
    ticket: Ticket,
    *,
    now: datetime,
    table: sla.TargetTable,
    teams: dict[int, Team],
    result: PassResult,
) -> None:
    fields: set[str] = {"next_check_at"}
    # Each step changes what is due next (a stage, a priority): look again after it. A
    # ticket has at most four alerts and one close, so this ends.
    for _step in range(8):
        plan = sla.plan_for(ticket, table)
        upcoming = [moment for moment in sla.moments(ticket, plan) if moment.at <= now]
        if not upcoming:
            break
        moment = upcoming[0]
        if moment.action == "close":
            _close(ticket, at=now)
            result.closed += 1
            fields |= {"status", "closed_at", "updated_at", "version"}
            break
        if moment.clock is None or moment.due_at is None:
            raise ValueError(f"a clock's moment without its clock: {moment}")
        stage = f"{moment.clock}_stage"
        fields.add(stage)
        cycle = ticket.sla_cycle if moment.clock == "resolution" else 1
        if moment.action == "warning":
            setattr(ticket, stage, sla.WARNED)
            if any(m.action == "breached" and m.clock == moment.clock for m in upcoming):
                continue  # late already: the breach, next step, says more
            if _record(ticket, "warning", moment.clock, cycle, moment.due_at):
                signals.ticket_sla_alert.send(
                    sender=Ticket,
                    ticket=ticket,
                    kind="warning",
                    clock=moment.clock,
                    due_at=moment.due_at,
                    cycle=cycle,
                )
                result.warnings += 1
            else:
                result.duplicates += 1
            continue
        setattr(ticket, stage, sla.BREACHED)
        if not _record(ticket, "breached", moment.clock, cycle, moment.due_at):
            result.duplicates += 1
            continue
        team = teams.get(ticket.team_id) if ticket.team_id is not None else None
        escalation = _escalate(ticket, team, at=now, table=table)
        if escalation.done:
            result.escalations += 1
            fields |= escalation.fields
        signals.ticket_sla_alert.send(
            sender=Ticket,
            ticket=ticket,
            kind="breached",
            clock=moment.clock,
            due_at=moment.due_at,
            cycle=cycle,
            escalation=escalation.done,
        )
        escalation.announce(ticket)
        result.breaches += 1
    sla.refresh(ticket, sla.plan_for(ticket, table))
    ticket.save(update_fields=sorted(fields))


def _record(ticket: Ticket, kind: str, clock: str, cycle: int, due_at: datetime) -> bool:
    """Write the alert's row; False when it exists already (another watcher's)."""
    try:
        with transaction.atomic():
            SlaAlert.objects.create(
                ticket=ticket, clock=clock, kind=kind, cycle=cycle, due_at=due_at
            )
    except IntegrityError:
        return False
    return True


@dataclass
class Escalation:
    """What the team's rule did to a breached ticket, and the events still to send."""

    done: tuple[str, ...] = ()
    fields: set[str] = field(default_factory=set)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    from_assignee: str | None = None
    reassigned: bool = False

    def announce(self, ticket: Ticket) -> None:
        if self.changes:
            signals.ticket_updated.send(
                sender=Ticket, ticket=ticket, actor=None, changes=self.changes
            )
        if self.reassigned:
            signals.ticket_assigned.send(
                sender=Ticket,
                ticket=ticket,
                actor=None,
                from_assignee=self.from_assignee,
                to_assignee=ticket.assignee_id,
            )


def _escalate(
    ticket: Ticket, team: Team | None, *, at: datetime, table: sla.TargetTable
) -> Escalation:
    escalation = Escalation()
    if team is None:
        return escalation
    done: list[str] = []
    entries: list[HistoryEntry] = []
    if team.escalate_raise_priority and ticket.priority < Priority.URGENT:
        old = Priority(ticket.priority)
        ticket.priority = old + 1
        new = Priority(ticket.priority)
        entries.append(_entry(ticket, "priority", old.key, new.key, at))
        escalation.changes["priority"] = (old.key, new.key)
        # Other targets: the due times move (the breached clock stays breached).
        sla.set_due_times(ticket, sla.plan_for(ticket, table))
        escalation.fields |= {"priority", "first_response_due", "resolution_due"}
        done.append("raised_priority")
    lead = team.lead_id
    if (
        team.escalate_to_lead
        and lead
        and ticket.assignee_id != lead
        and DirectoryUser.objects.filter(
            pk=lead, is_active=True, role__in=(Role.TECHNICIAN, Role.ADMIN)
        ).exists()
    ):
        escalation.from_assignee = ticket.assignee_id
        entries.append(_entry(ticket, "assignee_id", ticket.assignee_id, lead, at))
        ticket.assignee_id = lead
        escalation.reassigned = True
        escalation.fields.add("assignee_id")
        done.append("reassigned_to_lead")
    if done:
        ticket.updated_at = at
        ticket.version += 1
        escalation.fields |= {"updated_at", "version"}
        HistoryEntry.objects.bulk_create(entries)
        selectors.ticket_refresh_names(ticket=ticket)
    escalation.done = tuple(done)
    return escalation


def _close(ticket: Ticket, *, at: datetime) -> None:
    from_status = ticket.status
    ticket.status = Status.CLOSED
    ticket.closed_at = at
    ticket.updated_at = at
    ticket.version += 1
    _entry(ticket, "status", from_status, Status.CLOSED, at, actor=AUTO_CLOSE_ACTOR).save()
    signals.ticket_closed.send(sender=Ticket, ticket=ticket, from_status=from_status)


def _entry(
    ticket: Ticket,
    field_name: str,
    old: str | None,
    new: str | None,
    at: datetime,
    *,
    actor: str = ESCALATION_ACTOR,
) -> HistoryEntry:
    return HistoryEntry(
        ticket=ticket, actor_id=actor, field=field_name, from_value=old, to_value=new, at=at
    )
