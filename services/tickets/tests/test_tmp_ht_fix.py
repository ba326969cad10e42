from typing import Any

import pytest
from django.db import transaction
from servidesk_shared.vocabulary import OPEN_STATUSES
from tickets import calendars, signals, sla, teams
from tickets.models import Team, Ticket

from tests import test_calendars

frozen_at = test_calendars.frozen_at
default_calendar = test_calendars.default_calendar


@transaction.atomic
def fixed(*, team_id: int) -> None:
    team = teams.team_get(team_id)
    open_ids = list(Ticket.objects.filter(team=team, status__in=OPEN_STATUSES).values_list("pk", flat=True))
    signals.team_changed.send(sender=Team, team=team, change="deleted")
    team.delete()
    calendars.forget()
    sla.recompute_open(Ticket.objects.filter(pk__in=open_ids))


@pytest.mark.django_db
def test_fix(api, callers, open_ticket, frozen_at, monkeypatch) -> None:
    monkeypatch.setattr(teams, "team_delete", fixed)
    test_calendars.test_deleting_a_team_moves_its_open_tickets_to_the_desks_targets_and_calendar(api, callers, open_ticket, frozen_at)
