"""Secrets kept outside the database: read one, or create it private to this user on first use.

Inputs: a file path. Outputs: the secret's bytes. Guarantees: created with mode 0600 in a 0700 directory;
safe when several processes start at once (exclusive create, then everyone reads the one that won); an
existing secret is never replaced.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def private_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):
        text = path.read_text().strip()
        if text:
            return text.encode()
        time.sleep(0.02)  # created by another process a moment ago, not written yet
    raise ValueError(f"{path}: empty secret")
