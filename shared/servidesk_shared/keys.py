"""RSA keys for the RS256 tokens: loading from the environment, local generation, key ids.

accounts signs with the private key; every service verifies with the public key. In local
use a key pair is generated under ``var/jwt/`` on first start; production settings refuse
to start without ``JWT_PUBLIC_KEY`` (and ``JWT_PRIVATE_KEY`` in accounts).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def generate_keypair(bits: int = 2048) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem=private_pem, public_pem=public_pem)


def local_keypair(var: Path) -> KeyPair:
    """The local key pair under ``var/jwt/``, generated once, safely across processes."""
    folder = var / "jwt"
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / "private.pem", folder / "public.pem"
    # Every service starts at once under `make up`: one lock so they all get the same pair.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (private_path.is_file() and public_path.is_file()):
            pair = generate_keypair()
            _write_atomically(private_path, pair.private_pem, mode=0o600)
            _write_atomically(public_path, pair.public_pem, mode=0o644)
        return KeyPair(private_path.read_text(), public_path.read_text())


def _write_atomically(path: Path, text: str, *, mode: int) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def pem_from_env(value: str) -> str:
    """PEM text from an environment variable; ``\\n`` escapes are accepted for one-line .env."""
    return value.replace("\\n", "\n").strip() + "\n" if value else ""


def require_pem(name: str, value: str) -> str:
    pem = pem_from_env(value)
    if "-----BEGIN" not in pem:
        raise ImproperlyConfigured(f"{name} must be set to a PEM-encoded RSA key.")
    return pem


def key_id(public_pem: str) -> str:
    """The RFC 7638 JWK thumbprint of an RSA public key, used as the token's ``kid``."""
    public_key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ImproperlyConfigured("The JWT key must be an RSA key.")
    numbers = public_key.public_numbers()
    members = {"e": _b64_uint(numbers.e), "kty": "RSA", "n": _b64_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def public_jwk(public_pem: str) -> dict[str, str]:
    """The public key as a JWK with ``kid``, ``use`` and ``alg`` (one entry of a JWK set)."""
    public_key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ImproperlyConfigured("The JWT key must be an RSA key.")
    numbers = public_key.public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": key_id(public_pem),
        "n": _b64_uint(numbers.n),
        "e": _b64_uint(numbers.e),
    }


def _b64_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
