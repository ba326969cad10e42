"""Creates a load run's people inside accounts' own Django (``manage.py shell``), fast.

Run by ``population.create_accounts_in_service``, never by hand. Creating a person
through ``POST users/`` hashes their password there (PBKDF2-SHA256, 1,000,000 iterations,
about a quarter of a second of a core on purpose), so 1,060 people for 1,000 simulated
users cost 250 to 1,000 CPU seconds before the load even starts, and parallel requests
cannot beat the cores. Every person of a run shares one password, so here it is hashed
once (the production hasher, the same iterations: a person's sign-in during the load
checks it at full cost) and each person is made by ``users.services.user_create``, the
function ``POST users/`` calls, so the same rows and the same ``user.registered`` events
(tickets' directory fills from them) result.

The spec (JSON, ``LOAD_ACCOUNTS_SPEC``): ``{"password", "people": [[role, username,
language], ...], "resume": [username, ...]}``; those in ``resume`` also get a token pair
as a sign-in would issue (``users.tokens.token_pair_for``), so that person resumes a
session instead of signing in. The result (``LOAD_ACCOUNTS_OUT``): one entry per person,
``{"username", "role", "user_id", "tokens"}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from users import services, tokens
from users.models import User


def main() -> None:
    spec = json.loads(Path(os.environ["LOAD_ACCOUNTS_SPEC"]).read_text())
    encoded = make_password(spec["password"])
    resume = set(spec.get("resume", []))
    made = []
    for role, username, language in spec["people"]:
        user = services.user_create(
            username=username,
            email=f"{username}@load.example",
            password=None,
            role=role,
            full_name=f"Load {role.title()} {username[-3:]}",
            language=language,
        )
        made.append(user)
    with transaction.atomic():
        User.objects.filter(pk__in=[user.pk for user in made]).update(password=encoded)
    out = []
    for user in made:
        pair = {}
        if user.username in resume:
            issued = tokens.token_pair_for(user)
            pair = {"access": issued.access, "refresh": issued.refresh}
        out.append(
            {"username": user.username, "role": user.role, "user_id": str(user.pk), "tokens": pair}
        )
    Path(os.environ["LOAD_ACCOUNTS_OUT"]).write_text(json.dumps(out))


main()
