"""The outbox and inbox tables of the event bus, and its management commands.

A service that publishes or consumes events adds ``"servidesk_shared.outbox"`` to
``INSTALLED_APPS``; the code that uses these tables lives in ``servidesk_shared.events``.
"""
