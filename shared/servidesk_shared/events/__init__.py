"""The event bus: envelopes, topology, outbox relay and idempotent consumers.

The contract is the "Events" section of ARCHITECTURE.md. Wiring a service:

1. ``INSTALLED_APPS += ["servidesk_shared.outbox"]`` and ``manage.py migrate``: the outbox,
   inbox and sequence tables live in the service's own database.
2. A producer calls ``servidesk_shared.events.publisher.publish(SomeEvent(...))`` inside
   the transaction that makes the change (the service function's own) and runs
   ``manage.py relay_events`` (one or more) next to the web process.
3. A consumer sets ``SERVIDESK_EVENT_QUEUE`` (``notifier.events``, ``reports.events`` or
   ``tickets.users``) and ``SERVIDESK_EVENT_HANDLERS`` (dotted path to a
   ``registry.HandlerRegistry``), and runs ``manage.py consume_events`` (one or more).
   Handlers that keep a copy of a ticket or user guard it with ``projection.advance``.
4. ``manage.py dead_letters list`` shows what could not be applied, with the error;
   ``manage.py dead_letters replay --id EVENT_ID`` (or ``--all``) sends it back.
5. Every queue is a quorum queue (``topology``); ``manage.py migrate_to_quorum`` turns
   the classic queues of an older deployment into quorum queues (``quorum``).

``BROKER_URL`` may list several RabbitMQ nodes separated by ``;`` (failover). Unset, it
means the embedded broker under ``SERVIDESK_VAR_DIR/broker``: fine for trying Servidesk
out on one machine, not for production (see ``embedded.py``). Every setting and its
default is listed in ``conf.py``.

Modules: ``schemas`` (payloads), ``envelope`` (envelope, checks), ``topology``
(exchanges, queues, bindings), ``broker`` (connections), ``embedded`` (SQLite broker),
``publisher`` (outbox writes), ``relay``, ``consumer``, ``registry``, ``projection``,
``deadletters``, ``quorum`` (migrating classic queues), ``retention`` (pruning). This
package imports no models at import time, so settings and ``health.py`` may import it
early.
"""
