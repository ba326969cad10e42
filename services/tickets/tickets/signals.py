"""What the workflow announces, so new reactions can be added without touching it.

Every signal is sent inside the transaction of the change, after the change is written,
with ``sender=Ticket`` and these keyword arguments:

- ``ticket_created``: ``ticket``, ``actor``
- ``ticket_status_changed``: ``ticket``, ``actor``, ``from_status``, ``to_status``
- ``ticket_assigned``: ``ticket``, ``actor``, ``from_assignee``, ``to_assignee``
- ``ticket_commented``: ``ticket``, ``actor``, ``comment``

Receivers run in that transaction: one that raises rolls the change back (that is how
the outbox receiver in ``tickets.events`` guarantees "no change without its event").
Work that must not fail the request belongs in ``transaction.on_commit``.
"""

from __future__ import annotations

from django.dispatch import Signal

ticket_created = Signal()
ticket_status_changed = Signal()
ticket_assigned = Signal()
ticket_commented = Signal()
