"""A help desk's working day through the gateway, for locust (issue 10's load test).

Three kinds of people, weighted as a help desk is staffed:

- clients (70%) open tickets, read and answer them, reopen a resolved one now and then,
  and read their notifications;
- technicians (25%) work the queue: filter and search it, take tickets, start and
  resolve them, answer clients and leave internal notes;
- admins (5%) read the reports, now and then download a PDF or Excel, and read the
  delivery log and the user list.

Each person logs in once through accounts (or resumes with a token pair given in the
population file, refreshing it first, as the web UI does with a session), and refreshes
the access token shortly before it expires. Think times are a person's, not a script's.

Run it through ``bench/load/run.py``, which starts the stack and creates the population;
by hand: ``LOAD_POPULATION=people.json locust -f bench/load/locustfile.py --host URL``.

Environment:
- ``LOAD_POPULATION``: the population file (``bench/load/population.py``), required;
- ``LOAD_FIXED_COUNTS``: e.g. ``client=3,technician=1,admin=1`` instead of the weights
  (a handful of users would otherwise round the admins away);
- ``LOAD_THINK_SCALE``: multiplies every think time (the smoke test's 20 s use 0.25);
- ``LOAD_NOTES``: where to write, at the end, the answers that are the API's designed
  reply to a lost race (409 on a status move someone else made first), counted apart.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.load import population, texts

THINK_SCALE = float(os.environ.get("LOAD_THINK_SCALE", "1"))
#: Longest pause before a person's sign-in, in seconds (see ``Person.on_start``).
SIGN_IN_PAUSE = 3.0
#: Refresh this long before the access token expires (clock skew, slow answers).
REFRESH_MARGIN_SECONDS = 60
ME = "me"

#: Answers that are the API's designed reply to a lost race, by "status request-name".
NOTES: Counter[str] = Counter()
_POOL: dict[str, deque[population.Account]] = {}


def think(low: float, high: float) -> Any:
    """A person's pause between two actions, in seconds (scaled by ``LOAD_THINK_SCALE``)."""
    return between(low * THINK_SCALE, high * THINK_SCALE)


def take_account(role: str) -> population.Account:
    """The next unused account of ``role``: every simulated person is somebody else."""
    if not _POOL:
        path = os.environ.get("LOAD_POPULATION")
        if not path:
            raise RuntimeError("LOAD_POPULATION must name the population file")
        for account in population.read(Path(path)):
            _POOL.setdefault(account.role, deque()).append(account)
    accounts = _POOL.get(role)
    if not accounts:
        raise RuntimeError(f"the population has no more {role} accounts")
    return accounts.popleft()


def token_expiry(access: str) -> float:
    """The ``exp`` claim (epoch seconds); the signature is the services' business."""
    payload = access.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


class Person(FastHttpUser):
    abstract = True
    role: ClassVar[str] = ""

    def on_start(self) -> None:
        self.rng = random.Random()
        self.account = take_account(self.role)
        self.access = ""
        self.refresh_token = ""
        self.expires_at = 0.0
        if self.account.tokens:
            self.refresh_token = self.account.tokens["refresh"]
            self.refresh()
        else:
            # A person takes a moment to type the password. Also keeps sign-ins from
            # clumping when a busy locust spawns several people at once: more than 10 at
            # the same instant from the run's one address exceed the gateway's burst.
            gevent.sleep(self.rng.uniform(0, SIGN_IN_PAUSE) * THINK_SCALE)
            self.login()

    # --- the session ----------------------------------------------------------------------

    def login(self) -> None:
        pair = self.call(
            "POST",
            "/api/accounts/auth/token/",
            json={"username": self.account.username, "password": self.account.password},
            authenticated=False,
        )
        if pair:
            self.keep(pair)

    def refresh(self) -> None:
        pair = self.call(
            "POST",
            "/api/accounts/auth/token/refresh/",
            json={"refresh": self.refresh_token},
            authenticated=False,
        )
        if pair:
            self.keep(pair)

    def keep(self, pair: Mapping[str, str]) -> None:
        self.access = pair["access"]
        self.refresh_token = pair["refresh"]
        self.expires_at = token_expiry(self.access)

    def ensure_session(self) -> bool:
        if not self.access:
            self.login()
        elif time.time() > self.expires_at - REFRESH_MARGIN_SECONDS:
            self.refresh()
        return bool(self.access)

    # --- one request ----------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        expect: int = 200,
        lost_race: tuple[int, ...] = (),
        authenticated: bool = True,
        parse: bool = True,
    ) -> Any:
        """Send one request; anything but ``expect`` is a failure, except ``lost_race``
        answers, which are counted in ``NOTES``. Returns the JSON body (or True), else None.
        """
        headers = {"Authorization": f"Bearer {self.access}"} if authenticated else {}
        url = f"{path}?{urlencode(params, doseq=True)}" if params else path
        label = name or path
        with self.client.request(
            method, url, name=label, json=json, headers=headers, catch_response=True
        ) as response:
            status = response.status_code
            if status == expect:
                response.success()
                if not parse or status == 204:
                    return True
                return response.json()
            if status in lost_race:
                NOTES[f"{status} {method} {label}"] += 1
                response.success()
                return None
            body = (response.text or "")[:200]
            response.failure(f"{status} (expected {expect}): {body}")
            return None

    def me(self) -> str:
        return self.account.user_id


class Client(Person):
    weight = population.WEIGHTS["client"]
    role = "client"
    wait_time = think(3, 12)

    def on_start(self) -> None:
        super().on_start()
        self.ticket_ids: list[int] = []
        self.categories: list[str] = []
        if self.ensure_session():
            found = self.call("GET", "/api/tickets/categories/")
            self.categories = [c["slug"] for c in found] if found else []
            self.list_my_tickets()  # the landing page: my tickets

    def pick_ticket(self) -> int | None:
        if not self.ticket_ids:
            self.list_my_tickets()
        return self.rng.choice(self.ticket_ids) if self.ticket_ids else None

    @task(5)
    def list_my_tickets(self) -> None:
        if not self.ensure_session():
            return
        page = self.call("GET", "/api/tickets/", name="/api/tickets/ (own)")
        if page:
            self.ticket_ids = [ticket["id"] for ticket in page["results"]]

    @task(4)
    def read_ticket(self) -> None:
        ticket = self.pick_ticket()
        if ticket is None or not self.ensure_session():
            return
        self.call("GET", f"/api/tickets/{ticket}/", name="/api/tickets/[id]/")
        self.call("GET", f"/api/tickets/{ticket}/comments/", name="/api/tickets/[id]/comments/")

    @task(1)
    def open_ticket(self) -> None:
        if not self.ensure_session():
            return
        body = texts.new_ticket(self.rng, self.categories)
        created = self.call("POST", "/api/tickets/", json=body, expect=201)
        if created:
            self.ticket_ids.append(created["id"])
            self.call("GET", f"/api/tickets/{created['id']}/", name="/api/tickets/[id]/")

    @task(2)
    def answer(self) -> None:
        ticket = self.pick_ticket()
        if ticket is None or not self.ensure_session():
            return
        self.call(
            "POST",
            f"/api/tickets/{ticket}/comments/",
            name="/api/tickets/[id]/comments/",
            json={"body": self.rng.choice(texts.REPLIES), "internal": False},
            expect=201,
        )

    @task(1)
    def reopen_resolved(self) -> None:
        if not self.ensure_session():
            return
        page = self.call(
            "GET", "/api/tickets/", params={"status": "resolved"}, name="/api/tickets/?status="
        )
        # Most resolved tickets stay resolved; now and then the fix did not hold.
        if page and page["results"] and self.rng.random() < 0.3:
            ticket = self.rng.choice(page["results"])["id"]
            self.call(
                "POST",
                f"/api/tickets/{ticket}/status/",
                name="/api/tickets/[id]/status/ (reopen)",
                json={"status": "in_progress"},
                lost_race=(409,),
            )

    @task(3)
    def notifications(self) -> None:
        if not self.ensure_session():
            return
        self.call("GET", "/api/notifications/unread-count/")
        page = self.call("GET", "/api/notifications/", params={"unread": "true"})
        if page and page["results"] and self.rng.random() < 0.4:
            if self.rng.random() < 0.5:
                self.call("POST", "/api/notifications/read-all/", expect=204)
            else:
                notification = page["results"][0]["id"]
                self.call(
                    "POST",
                    f"/api/notifications/{notification}/read/",
                    name="/api/notifications/[id]/read/",
                    expect=204,
                )

    @task(1)
    def profile(self) -> None:
        if self.ensure_session():
            self.call("GET", "/api/accounts/me/")


class Technician(Person):
    weight = population.WEIGHTS["technician"]
    role = "technician"
    wait_time = think(2, 8)

    def on_start(self) -> None:
        super().on_start()
        self.working: list[int] = []
        self.look_at_queue()  # the landing page: the queue

    def queue_page(self) -> list[dict[str, Any]]:
        page = self.call(
            "GET",
            "/api/tickets/",
            params={"status": "pending", "unassigned": "true", "ordering": "first_response_due"},
            name="/api/tickets/?queue",
        )
        return list(page["results"]) if page else []

    @task(4)
    def look_at_queue(self) -> None:
        if self.ensure_session():
            self.queue_page()

    @task(3)
    def my_work(self) -> None:
        if not self.ensure_session():
            return
        page = self.call(
            "GET",
            "/api/tickets/",
            params={"assignee_id": self.me(), "status": "in_progress", "ordering": "-updated_at"},
            name="/api/tickets/?assignee_id=",
        )
        if page:
            self.working = [ticket["id"] for ticket in page["results"]]

    @task(2)
    def search(self) -> None:
        if self.ensure_session():
            self.call(
                "GET",
                "/api/tickets/",
                params={"q": self.rng.choice(texts.SEARCHES)},
                name="/api/tickets/?q=",
            )

    @task(1)
    def filtered(self) -> None:
        if not self.ensure_session():
            return
        filters = self.rng.choice(
            (
                {"breached": "true"},
                {"priority": "urgent", "status": "pending"},
                {"category": "network", "ordering": "-created_at"},
                {"status": "in_progress", "ordering": "resolution_due"},
            )
        )
        self.call("GET", "/api/tickets/", params=filters, name="/api/tickets/?filters")

    @task(2)
    def take_ticket(self) -> None:
        if not self.ensure_session():
            return
        queue = self.queue_page()
        if not queue:
            return
        ticket = self.rng.choice(queue[:10])["id"]
        assigned = self.call(
            "POST",
            f"/api/tickets/{ticket}/assign/",
            name="/api/tickets/[id]/assign/",
            json={"assignee_id": self.me()},
        )
        # Another technician may have taken it a moment before: theirs, leave it.
        if not assigned or str(assigned["assignee_id"]) != str(self.me()):
            return
        started = self.call(
            "POST",
            f"/api/tickets/{ticket}/status/",
            name="/api/tickets/[id]/status/",
            json={"status": "in_progress"},
            lost_race=(409,),
        )
        if started:
            self.working.append(ticket)
            self.call(
                "POST",
                f"/api/tickets/{ticket}/comments/",
                name="/api/tickets/[id]/comments/",
                json={"body": "Lo estoy mirando / looking into it now.", "internal": False},
                expect=201,
            )

    @task(3)
    def work_ticket(self) -> None:
        if not self.working or not self.ensure_session():
            return
        ticket = self.rng.choice(self.working)
        current = self.call("GET", f"/api/tickets/{ticket}/", name="/api/tickets/[id]/")
        self.call("GET", f"/api/tickets/{ticket}/comments/", name="/api/tickets/[id]/comments/")
        if not current or current["status"] != "in_progress":
            self.working.remove(ticket)
            return
        internal = self.rng.random() < 0.3
        body = self.rng.choice(texts.INTERNAL_NOTES if internal else texts.REPLIES)
        self.call(
            "POST",
            f"/api/tickets/{ticket}/comments/",
            name="/api/tickets/[id]/comments/",
            json={"body": body, "internal": internal},
            expect=201,
        )
        if self.rng.random() < 0.35:
            resolved = self.call(
                "POST",
                f"/api/tickets/{ticket}/status/",
                name="/api/tickets/[id]/status/",
                json={"status": "resolved"},
                lost_race=(409,),
            )
            if resolved and ticket in self.working:
                self.working.remove(ticket)

    @task(1)
    def history(self) -> None:
        if self.working and self.ensure_session():
            ticket = self.rng.choice(self.working)
            self.call("GET", f"/api/tickets/{ticket}/history/", name="/api/tickets/[id]/history/")

    @task(1)
    def notifications(self) -> None:
        if self.ensure_session():
            self.call("GET", "/api/notifications/unread-count/")


class Admin(Person):
    weight = population.WEIGHTS["admin"]
    role = "admin"
    wait_time = think(5, 20)

    def on_start(self) -> None:
        super().on_start()
        self.summary()  # the landing page: the numbers

    def period(self, days: int) -> dict[str, str]:
        today = datetime.now(UTC).date()
        return {"from": (today - timedelta(days=days)).isoformat(), "to": today.isoformat()}

    @task(6)
    def summary(self) -> None:
        if self.ensure_session():
            self.call("GET", "/api/reports/summary/")

    @task(2)
    def summary_filtered(self) -> None:
        if self.ensure_session():
            params = {**self.period(7), "priority": self.rng.choice(texts.PRIORITIES)}
            self.call(
                "GET", "/api/reports/summary/", params=params, name="/api/reports/summary/?filters"
            )

    @task(1)
    def download(self) -> None:
        if self.ensure_session():
            name = self.rng.choice(("export.pdf", "export.xlsx"))
            self.call("GET", f"/api/reports/{name}", params=self.period(30), parse=False)

    @task(3)
    def delivery_log(self) -> None:
        if self.ensure_session():
            self.call("GET", "/api/notifications/deliveries/")

    @task(2)
    def users(self) -> None:
        if self.ensure_session():
            self.call(
                "GET",
                "/api/accounts/users/",
                params={"role": "technician"},
                name="/api/accounts/users/?role=",
            )

    @task(2)
    def breached(self) -> None:
        if self.ensure_session():
            self.call(
                "GET", "/api/tickets/", params={"breached": "true"}, name="/api/tickets/?filters"
            )


def apply_fixed_counts(spec: str) -> None:
    classes = {cls.role: cls for cls in (Client, Technician, Admin)}
    for part in filter(None, spec.split(",")):
        role, _, count = part.partition("=")
        classes[role.strip()].fixed_count = int(count)


apply_fixed_counts(os.environ.get("LOAD_FIXED_COUNTS", ""))


def write_notes(**_kwargs: Any) -> None:
    path = os.environ.get("LOAD_NOTES")
    if path:
        Path(path).write_text(json.dumps(dict(NOTES), indent=1, sort_keys=True))


events.quitting.add_listener(write_notes)  # type: ignore[no-untyped-call]
