"""Integration fixtures: a real `safeguard up` (embedded Tansu broker, SQLite, worker processes).

These tests never skip: the broker ships in a Python package, so a missing broker is a failure.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.clock import clock_env, example

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


def _rules_without_grace() -> Path:
    """The shipped deadline rules, but an outcome naming an unseen referral alerts at the next timer tick instead
    of after an hour: several tests use such an outcome as a marker that everything before it was routed."""
    from streams.deadlines.watch import RULES_FILE

    text = RULES_FILE.read_text()
    assert "grace_minutes = 60" in text
    path = Path(tempfile.mkdtemp(prefix="safeguard-rules-")) / "deadline_rules.toml"
    path.write_text(text.replace("grace_minutes = 60", "grace_minutes = 0"))
    return path


RULES_WITHOUT_GRACE = _rules_without_grace()


def cli(*args: str, data_dir: Path, check: bool = False, timeout: float = 120,
        extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `safeguard` command line as an outside user would."""
    result = subprocess.run([sys.executable, "-m", "streams.cli", *args, "--data-dir", str(data_dir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout, env={**_env(), **(extra_env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"safeguard {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARD_")}
    env["SAFEGUARD_LOG_JSON"] = "true"
    env["SAFEGUARD_WATCH_RULES_FILE"] = str(RULES_WITHOUT_GRACE)
    env.update(clock_env())
    return env


def signed(data_dir: Path, value: bytes) -> list[tuple[str, bytes]]:
    """The headers with which the instance under ``data_dir`` vouches for the producer ``value`` names (what
    `safeguard publish` sends; a producer outside holds its own key from `safeguard producer-key`)."""
    return _producer_keys(data_dir).sign_as_claimed(value)


@functools.lru_cache(maxsize=None)
def _producer_keys(data_dir: Path):  # type: ignore[no-untyped-def]
    from streams.access.credentials import ProducerKeys
    from streams.settings import Settings

    return ProducerKeys.from_settings(Settings(_env_file=None, data_dir=data_dir))


def export(sink: str, data_dir: Path, *options: str) -> list[dict]:
    result = cli("export", sink, *options, data_dir=data_dir, check=True)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def wait_for(condition, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def write_events(path: Path, events: list[dict | str]) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


def many_ppns(count: int) -> list[dict]:
    """Distinct PPNs, each about one child: 2 deliveries each (children's services full, health summary)."""
    events = []
    for index in range(count):
        event = example("ppn.submitted", ppn_reference=f"PPN-LOAD-{index:05d}")
        event["persons"] = [dict(event["persons"][0], source_person_id=f"LOAD-{index}", nhs_number=None)]
        event["persons"][0].pop("nhs_number")
        events.append(event)
    return events


class Instance:
    """One running `safeguard up`."""

    def __init__(self, data_dir: Path, workers: int = 1, extra_env: dict | None = None, demo: bool = False) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.demo = demo
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log = data_dir / "up.log"

    def start(self) -> Instance:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**_env(), **self.extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "up", "--data-dir", str(self.data_dir), "--port", "0",
             "--workers", str(self.workers), *(["--demo"] if self.demo else [])], cwd=ROOT, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        wait_for(self._ready, timeout=START_TIMEOUT, what=f"safeguard up to be ready (log {self.log})")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"safeguard up exited {self.process.returncode}: {self.log.read_text()[-3000:]}")
        return (self.data_dir / "runtime.json").exists()

    @property
    def runtime(self) -> dict:
        return json.loads((self.data_dir / "runtime.json").read_text())

    def publish(self, events: list[dict | str], name: str | None = None) -> subprocess.CompletedProcess:
        path = write_events(self.data_dir / (name or f"events-{uuid.uuid4().hex[:8]}.jsonl"), events)
        return cli("publish", str(path), data_dir=self.data_dir, extra_env=self.extra_env)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9 the whole instance: supervisor, workers and the embedded broker."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in self.runtime_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        (self.data_dir / "runtime.json").unlink(missing_ok=True)

    def runtime_pids(self) -> list[int]:
        try:
            runtime = self.runtime
            return [*runtime.get("worker_pids", []), *([runtime["relay_pid"]] if runtime.get("relay_pid") else [])]
        except (OSError, ValueError):
            return []


@pytest.fixture
def instance(tmp_path):
    running = Instance(tmp_path / "var").start()
    yield running
    running.stop()
    if running.process and running.process.poll() is None:
        running.kill()
