"""web-events: the live feed as Server-Sent Events, an ASGI application (``core/asgi.py``).

    GET /events/?ticket=<id>&since=<id>      (Last-Event-ID, sent by a reconnecting
                                             EventSource, wins over since)

The browser is known by web's session cookie, as on every page (no session: 401). The
stream sends ``notification`` events (the bell) and, with ``ticket``, that ticket's
``ticket`` and ``typing`` events, as far as the person may see them
(``selectors.visible``); ``: keep-alive`` comments every ``WEB_LIVE_KEEPALIVE_SECONDS``;
and ends after ``WEB_LIVE_STREAM_SECONDS`` so the browser reconnects and is signed in again
(a signed-out session stops being served).

Nothing is missed across reconnects: each event's ``id`` is its row's id, ids are in
commit order (``services``), and a stream starts with the rows after the id it was given
(``since``: the newest id when the page was rendered) before following the hub.

One ``Hub`` per process reads new rows for every stream: woken by PostgreSQL's NOTIFY on
``services.CHANNEL`` (``servidesk_shared.waiter``; elsewhere it polls), it reads the rows
after the last one it saw, once, and hands each stream those it may see. A stream that
registers takes the hub's position as its floor: rows up to the floor come from its
replay, rows above from the hub, so none is sent twice or never.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.db import close_old_connections

from portal.api.session import SessionUser, user_from_session
from portal.live import selectors, services
from portal.live.selectors import Audience
from portal.models import LiveEvent
from servidesk_shared.waiter import PollingWaiter, make_waiter

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Rows a slow browser may have waiting before its stream is ended (it reconnects and
#: replays from where it was).
QUEUE_LIMIT = 1000
PRUNE_EVERY_SECONDS = 300.0
PATH = "/events/"
#: A ticket id as web's paths take it (``portal.urls.OpaqueIdConverter``).
TICKET_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


class Subscriber:
    def __init__(self, audience: Audience, loop: asyncio.AbstractEventLoop) -> None:
        self.audience = audience
        self.loop = loop
        self.queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.after = 0  # the newest id sent: the hub sends only rows above it

    def offer(self, row: LiveEvent) -> None:
        """From the hub's thread: queue ``row`` for this stream's loop."""
        self.loop.call_soon_threadsafe(self._put, row)

    def _put(self, row: LiveEvent | None) -> None:
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)  # ends the stream: the browser replays


class Hub:
    """Reads the rows after the newest it saw and hands them to the streams."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: set[Subscriber] = set()
        self.position = -1  # -1: not started
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.waiter: PollingWaiter | None = None
        self.pruned_at = 0.0

    def start(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.position = selectors.newest_id()
            self.thread = threading.Thread(target=self._run, name="live-hub", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def join(self, subscriber: Subscriber) -> int:
        """Register ``subscriber``; the hub's position (it sends only rows above it)."""
        with self.lock:
            self.subscribers.add(subscriber)
            return self.position

    def leave(self, subscriber: Subscriber) -> None:
        with self.lock:
            self.subscribers.discard(subscriber)

    def _run(self) -> None:
        self.waiter = make_waiter(
            channel=services.CHANNEL, wakeup=self.wakeup, name="live-hub", polling_max_sleep=0.5
        )
        try:
            while not self.stopping.is_set():
                try:
                    self.dispatch()
                except Exception:  # the database away: try again at the next wake
                    logger.exception("live hub: reading new rows failed")
                    close_old_connections()
                self.waiter.wait(_setting("WEB_LIVE_POLL_SECONDS", 2.0))
        finally:
            self.waiter.close()

    def dispatch(self) -> int:
        """Hand the rows after the hub's position to the streams that may see them."""
        rows = selectors.rows_after(self.position)
        with self.lock:
            for row in rows:
                for subscriber in self.subscribers:
                    if row.id > subscriber.after and selectors.visible(row, subscriber.audience):
                        subscriber.offer(row)
            if rows:
                self.position = rows[-1].id
        if time.monotonic() - self.pruned_at > PRUNE_EVERY_SECONDS:
            self.pruned_at = time.monotonic()
            services.prune()
        return len(rows)


hub = Hub()


def format_event(row: LiveEvent) -> bytes:
    data = json.dumps(row.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {row.id}\nevent: {row.kind}\ndata: {data}\n\n".encode()


def _headers(scope: Scope) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]
    }


def _number(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    return int(value.strip())


def _signed_in(session_key: str) -> SessionUser | None:
    close_old_connections()
    try:
        engine = importlib.import_module(settings.SESSION_ENGINE)
        return user_from_session(engine.SessionStore(session_key=session_key).load())
    finally:
        close_old_connections()


def _replay(audience: Audience, after: int, up_to: int) -> list[LiveEvent]:
    close_old_connections()
    try:
        return selectors.visible_rows(audience, after=after, up_to=up_to)
    finally:
        close_old_connections()


async def _respond(send: Send, status: int, body: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application: the events path, the health checks, 404 for the rest."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path in ("/events/health/live", "/events/health/ready"):
        await _health(send, ready=path.endswith("ready"))
        return
    if path != PATH:
        await _respond(send, 404, '{"message": "Not found.", "extra": {}}')
        return
    if scope["method"] not in ("GET", "HEAD"):
        await _respond(send, 405, '{"message": "Method not allowed.", "extra": {}}')
        return
    await stream(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(hub.stop)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _health(send: Send, *, ready: bool) -> None:
    if not ready:
        await _respond(send, 200, '{"status": "ok", "service": "web-events"}')
        return
    try:
        await asyncio.to_thread(_replay, Audience(user_id="", staff=False), 2**62, 2**62)
    except Exception as exc:  # the database away
        await _respond(send, 503, json.dumps({"status": "unavailable", "database": str(exc)}))
        return
    await _respond(send, 200, '{"status": "ok", "service": "web-events"}')


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    headers = _headers(scope)
    cookie: SimpleCookie = SimpleCookie()
    with contextlib.suppress(Exception):
        cookie.load(headers.get("cookie", ""))
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    user = await asyncio.to_thread(_signed_in, morsel.value) if morsel else None
    if user is None:
        await _respond(send, 401, '{"message": "Sign in first.", "extra": {}}')
        return
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    ticket = (query.get("ticket") or [""])[0]
    audience = Audience(
        user_id=user.id,
        staff=user.is_staff,
        ticket_id=ticket if TICKET_ID.fullmatch(ticket) else "",
    )
    since = _number(headers.get("last-event-id")) or _number((query.get("since") or [""])[0])
    await asyncio.to_thread(hub.start)
    subscriber = Subscriber(audience, asyncio.get_running_loop())
    floor = hub.join(subscriber)
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        subscriber.after = since if since is not None else floor
        if since is not None and since < floor:
            rows = await asyncio.to_thread(_replay, audience, since, floor)
            for row in rows:
                await send(
                    {"type": "http.response.body", "body": format_event(row), "more_body": True}
                )
            if len(rows) == selectors.REPLAY_LIMIT:  # more to replay: the browser asks again
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
        await _follow(subscriber, receive, send)
    finally:
        hub.leave(subscriber)


async def _follow(subscriber: Subscriber, receive: Receive, send: Send) -> None:
    """Send the hub's rows and keep-alives until the browser goes, the stream's time is
    up, or the browser fell too far behind."""
    keepalive = _setting("WEB_LIVE_KEEPALIVE_SECONDS", 15.0)
    ends = time.monotonic() + _setting("WEB_LIVE_STREAM_SECONDS", 300.0)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while not gone.done() and (left := ends - time.monotonic()) > 0:
            getting = asyncio.ensure_future(subscriber.queue.get())
            done, _ = await asyncio.wait(
                {getting, gone}, timeout=min(keepalive, left), return_when=asyncio.FIRST_COMPLETED
            )
            if getting not in done:
                getting.cancel()
                if not gone.done():
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b": keep-alive\n\n",
                            "more_body": True,
                        }
                    )
                continue
            row = getting.result()
            if row is None:
                break
            if row.id <= subscriber.after:
                continue
            subscriber.after = row.id
            await send({"type": "http.response.body", "body": format_event(row), "more_body": True})
        if not gone.done():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
