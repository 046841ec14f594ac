"""The AsyncAPI project's own parser (@asyncapi/parser, pinned in deploy/asyncapi-check), run through Node.

Inputs: the path of an AsyncAPI document. Outputs: ``check`` returns the finished ``node check.mjs``
process (exit code, and on stdout one line per error diagnostic plus a count).
Guarantee: ``ensure_installed`` runs ``npm ci`` from the committed lock file whenever node_modules is
missing or holds another parser version than the pinned one, so a fresh clone needs only node and npm
and the npm registry; ``tools`` says which of node and npm are missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CHECK_DIR = Path(__file__).resolve().parents[1] / "deploy" / "asyncapi-check"
INSTALL_TIMEOUT = 600
CHECK_TIMEOUT = 120


def tools() -> tuple[str | None, str | None]:
    """The paths of ``node`` and ``npm``, ``None`` for either that is not on PATH."""
    return shutil.which("node"), shutil.which("npm")


def pinned_version() -> str:
    return json.loads((CHECK_DIR / "package.json").read_text())["dependencies"]["@asyncapi/parser"]


def installed_version() -> str | None:
    manifest = CHECK_DIR / "node_modules" / "@asyncapi" / "parser" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


def ensure_installed(npm: str) -> None:
    """Installs the pinned parser into deploy/asyncapi-check/node_modules unless it is already there."""
    if installed_version() == pinned_version():
        return
    done = subprocess.run([npm, "ci", "--loglevel=error"], cwd=CHECK_DIR, capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {CHECK_DIR} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def check(node: str, document: Path) -> subprocess.CompletedProcess[str]:
    """Parses ``document`` with the pinned parser; exit code 0 means a document and no error diagnostic."""
    return subprocess.run([node, str(CHECK_DIR / "check.mjs"), str(document)], cwd=CHECK_DIR, capture_output=True,
                          text=True, timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL)
