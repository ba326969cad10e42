"""The live feed: what an open page is told as it happens (issue 22).

- ``handlers``: web-live (``manage.py consume_events`` on ``web.live``) turns ticket events
  and ``notification.created`` into ``LiveEvent`` rows (``services``);
- ``views.live`` (typing): a staff member writing a reply adds a short-lived row;
- ``stream``: the ASGI application of web-events (``core/asgi.py``) that sends each
  signed-in browser the rows it may see as Server-Sent Events, resuming after
  ``Last-Event-ID``, woken by a PostgreSQL NOTIFY on ``CHANNEL``.
"""
