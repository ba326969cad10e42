"""Make the RS256 key pair of a compose deployment once, into two volumes.

    python /opt/servidesk/jwt_keys.py PRIVATE_DIR PUBLIC_DIR

The private key goes to PRIVATE_DIR (mounted only into accounts' containers), the public
key to PUBLIC_DIR (mounted into every service). An existing pair is kept, so tokens stay
valid across restarts; a public key is re-derived if only it is missing. A real
deployment provides its own keys (JWT_PRIVATE_KEY[_FILE], JWT_PUBLIC_KEY[_FILE]) instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from servidesk_shared.keys import generate_keypair


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def ensure_keys(private_dir: Path, public_dir: Path) -> str:
    private_path, public_path = private_dir / "private.pem", public_dir / "public.pem"
    if private_path.is_file():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        if public_path.is_file() and public_path.read_text() == public_pem:
            return "kept the existing key pair"
        _write(public_path, public_pem, 0o644)
        return "kept the existing private key and wrote its public key"
    pair = generate_keypair()
    _write(private_path, pair.private_pem, 0o600)
    _write(public_path, pair.public_pem, 0o644)
    return "generated a new key pair"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    outcome = ensure_keys(Path(argv[0]), Path(argv[1]))
    sys.stderr.write(f"jwt_keys: {outcome}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
