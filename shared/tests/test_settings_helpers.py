"""The database fallback chain and local key generation."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from servidesk_shared.keys import key_id, local_keypair, public_jwk
from servidesk_shared.settings import database_config, database_url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TICKETS_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_service_url_wins_over_the_generic_one(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgres://a@h/generic")
    clean_env.setenv("TICKETS_DATABASE_URL", "postgres://a@h/tickets")
    assert database_url("tickets", default="sqlite:///x") == "postgres://a@h/tickets"


def test_generic_url_is_the_fallback(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgres://a@h/generic")
    assert database_url("tickets", default="sqlite:///x") == "postgres://a@h/generic"


def test_sqlite_under_var_when_nothing_is_set(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = database_config("tickets", var=tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "tickets.sqlite3")
    assert config["ATOMIC_REQUESTS"] is False


def test_postgres_connections_are_health_checked(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("TICKETS_DATABASE_URL", "postgres://u@db:5432/tickets")
    config = database_config("tickets", var=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_HEALTH_CHECKS"] is True


def _read_public(var: str) -> str:
    return local_keypair(Path(var)).public_pem


def test_processes_starting_together_share_one_key_pair(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(_read_public, [str(tmp_path)] * 8)
    assert len(set(keys)) == 1
    assert (tmp_path / "jwt" / "private.pem").stat().st_mode & 0o077 == 0


def test_jwk_carries_the_thumbprint_as_kid(tmp_path: Path) -> None:
    pair = local_keypair(tmp_path)
    jwk = public_jwk(pair.public_pem)
    assert jwk["kid"] == key_id(pair.public_pem)
    assert jwk["alg"] == "RS256"
    assert {"n", "e", "kty", "use"} <= set(jwk)


def test_key_id_matches_the_rfc_7638_example() -> None:
    """The worked example of RFC 7638, section 3.1."""
    import base64  # noqa: PLC0415

    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers  # noqa: PLC0415

    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ"
        "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW"
        "2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQ"
        "Fh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )

    def as_int(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    public = RSAPublicNumbers(as_int("AQAB"), as_int(n)).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert key_id(pem) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
