"""The layout is the architecture: import direction is checked, not hoped for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class TestLayering:
    def test_import_contracts_hold(self):
        """import-linter's contracts in pyproject.toml: the domain never imports the broker, runtime or web
        packages; sinks never import streams; the wire models import nothing of the pipeline."""
        result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                                 "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    def test_a_forbidden_import_is_caught(self, tmp_path):
        """The check can fail: a domain module importing the runtime breaks the domain contract."""
        config = tmp_path / "contracts.toml"
        config.write_text((ROOT / "pyproject.toml").read_text())
        probe = ROOT / "streams" / "deadlines" / "_layering_probe.py"
        probe.write_text("from streams.runtime import retry  # noqa: F401\n")
        try:
            result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                                     f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True, "
                                     "limit_to_contracts=('domain',)))"],
                                    cwd=ROOT, capture_output=True, text=True, timeout=120)
        finally:
            probe.unlink()
        assert result.returncode != 0 and "streams.deadlines._layering_probe -> streams.runtime" in result.stdout
