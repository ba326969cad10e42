"""What every Servidesk service shares.

Settings helpers, stateless JWT verification, role permissions, one JSON error format,
request ids with structured logs, health endpoints and, in ``events``, the event bus.
"""
