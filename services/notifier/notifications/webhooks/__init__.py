"""Webhooks: admins' endpoints that receive events as signed JSON ``POST``s (issue 20).

- ``conf``: the ``WEBHOOK_*`` settings; ``events``: which event types may be subscribed to
  and what of an event's ``data`` an endpoint receives.
- ``signing``: the ``X-Servidesk-Signature`` header; ``outbound``: the one way a request
  leaves (resolved, refused inside, pinned to the address checked, no redirects, capped).
- ``services``/``selectors``: the endpoints and their delivery log; ``sender``: the loop of
  ``manage.py send_webhooks``.
"""
