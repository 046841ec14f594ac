"""`safeguard up`: broker, topics, replay, workers and web server, started and stopped together.

Inputs: ``Settings`` (embedded defaults, or ``broker_url``/``database_url`` for a real
cluster and database). Outputs: a running pipeline until SIGINT/SIGTERM, a runtime file other
commands use to find it, and a clean stop. Guarantees: accepted-but-unprocessed events are
replayed from the intake table on start (the embedded broker forgets topics when it stops);
a worker (or the outbox relay) that dies is restarted; on stop, in-flight events are drained and
relayed before the broker goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import structlog
from aiohttp import web
from sqlmodel import Session, select

from sinks.mail_capture import MailCapture
from sinks.models import INTAKE_ACCEPTED, IntakeEvent
from sinks.store import private_directory
from streams.kafka import admin
from streams.kafka.connection import KafkaConnection
from streams.kafka.embedded_broker import EmbeddedBroker
from streams.kafka.publisher import send_raw
from streams.kafka.topics import Topology
from streams.processes import die_with_parent
from streams.runtime.worker import broker_address
from streams.services import build_services
from streams.settings import Settings
from streams.web.app import build_web_app

log = structlog.get_logger("safeguard.up")
WORKER_RESTART_DELAY_SECONDS = 2.0
LAG_GAUGE_BUDGET_SECONDS = 1.0  # reading forward past ListOffsets for the gauge (streams/kafka/broker_quirks.py)


def replay_unprocessed(engine, topology: Topology, connection: KafkaConnection) -> int:  # type: ignore[no-untyped-def]
    """Re-send every accepted-but-unprocessed event to the accepted topic; returns how many."""
    with Session(engine) as session:
        rows = session.exec(select(IntakeEvent.key, IntakeEvent.payload).where(IntakeEvent.status == INTAKE_ACCEPTED)).all()
    if rows:
        send_raw([(topology.accepted.name, (key or "").encode(), payload.encode()) for key, payload in rows], connection)
    return len(rows)


def unrelayed(engine) -> int:  # type: ignore[no-untyped-def]
    """How many deliveries the relay has not published yet."""
    from sqlalchemy import func

    from sinks.models import DeliveryRecord

    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(DeliveryRecord)
                            .where(DeliveryRecord.relayed_at.is_(None))).one()  # type: ignore[union-attr]


def read_runtime(settings: Settings) -> dict | None:
    """The runtime record of a `safeguard up` using this data directory, if its process is alive."""
    try:
        runtime = json.loads(settings.runtime_file.read_text())
        os.kill(int(runtime["pid"]), 0)
        return runtime
    except (OSError, ValueError, KeyError):
        return None


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services = build_services(settings)
        self.topology = self.services.topology
        self.engine = self.services.engine
        self.broker: EmbeddedBroker | None = None
        self.bootstrap = broker_address(settings.broker_url) if settings.broker_url else ""
        self.workers: list[subprocess.Popen[bytes]] = []
        self.relay: subprocess.Popen[bytes] | None = None
        self.mail: MailCapture | None = None
        self.mail_env: dict[str, str] = {}
        self.stopping = asyncio.Event()
        self.runtime: dict = {}
        self.lag: dict[str, int] = {}

    @property
    def connection(self) -> KafkaConnection:
        return KafkaConnection.from_settings(self.settings, self.bootstrap)

    def start_broker(self) -> None:
        if not self.bootstrap:
            self.broker = EmbeddedBroker(self.settings.data_dir / "logs").start()
            self.bootstrap = self.broker.address
        admin.ensure_topics(self.connection, self.topology, self.settings.replication_factor)

    def start_mail_capture(self) -> None:
        """No SMTP server configured: capture the e-mails on this machine, so notices are delivered end to end."""
        if self.settings.smtp_host:
            return
        self.mail = MailCapture(self.settings.data_dir)
        self.mail_env = {"SAFEGUARD_SMTP_HOST": "127.0.0.1", "SAFEGUARD_SMTP_PORT": str(self.mail.start()),
                         "SAFEGUARD_SMTP_STARTTLS": "false"}

    def spawn_worker(self, index: int) -> subprocess.Popen[bytes]:
        return self._spawn("streams.runtime.worker", f"worker-{index}.log", {"SAFEGUARD_APP_ID": self.settings.app_id,
                                                                           **self.mail_env})

    def spawn_relay(self) -> subprocess.Popen[bytes]:
        """The one outbox relay of this instance (``streams/runtime/relay.py``)."""
        return self._spawn("streams.runtime.relay", "relay.log", {})

    def _spawn(self, module: str, log_name: str, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A child process on this instance's broker, store, data directory, topics and policy, logging to its own file."""
        env = {**os.environ, "SAFEGUARD_BROKER_URL": f"kafka://{self.bootstrap}", "SAFEGUARD_DATABASE_URL": self.settings.database,
               "SAFEGUARD_DATA_DIR": str(self.settings.data_dir), "SAFEGUARD_TOPIC_PREFIX": self.settings.topic_prefix,
               "SAFEGUARD_POLICY_FILE": str(self.settings.policy_file), **extra_env}
        log_path = self.settings.data_dir / "logs" / log_name
        private_directory(log_path.parent)
        return subprocess.Popen([sys.executable, "-m", module], env=env, stdin=subprocess.DEVNULL,
                                stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
                                preexec_fn=die_with_parent(signal.SIGTERM))

    def write_runtime(self) -> None:
        """Record where this instance runs (for the other commands and for operators' tooling)."""
        runtime = {**self.runtime, "worker_pids": [worker.pid for worker in self.workers],
                   "relay_pid": self.relay.pid if self.relay else None,
                   "broker_pid": self.broker.process.pid if self.broker and self.broker.process else None}
        temporary = self.settings.runtime_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(runtime))
        temporary.replace(self.settings.runtime_file)

    def is_ready(self) -> tuple[bool, str]:
        alive = sum(1 for worker in self.workers if worker.poll() is None)
        if self.broker is not None and self.broker.process is not None and self.broker.process.poll() is not None:
            return False, "embedded broker has stopped"
        if alive < len(self.workers) or not self.workers:
            return False, f"{alive}/{len(self.workers)} workers running"
        return True, f"{alive} workers running"

    async def run(self, demo: bool = False) -> None:
        settings = self.settings
        private_directory(settings.data_dir)
        if read_runtime(settings):
            raise SystemExit(f"a pipeline is already running with data directory {settings.data_dir}; stop it or use --data-dir")
        self.start_broker()  # main thread on purpose: see streams.processes
        self.start_mail_capture()
        replayed = await asyncio.to_thread(replay_unprocessed, self.engine, self.topology, self.connection)
        self.workers = [self.spawn_worker(i) for i in range(settings.workers)]
        self.relay = self.spawn_relay()
        runner = web.AppRunner(build_web_app(self.services, self.is_ready, lambda: self.lag,
                                                lambda messages: send_raw(messages, self.connection, self.services.producer_keys)), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.web_host, settings.web_port)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://{settings.web_host}:{port}/"
        self.runtime = {"pid": os.getpid(), "broker": self.bootstrap, "database": settings.database, "web_url": url,
                        "app_id": settings.app_id, "topic_prefix": settings.topic_prefix,
                        "mail_capture": str(self.mail.directory) if self.mail else None,
                        "started_at": self.services.clock.now().isoformat()}
        self.write_runtime()
        print(f"safeguard pipeline up: dashboard {url}  broker {self.bootstrap}  database {settings.database}", flush=True)
        log.info("pipeline.up", web_url=url, broker=self.bootstrap, workers=settings.workers, replayed=replayed)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        if demo:
            asyncio.create_task(self.publish_demo())
        try:
            await self.watch_workers()
        finally:
            await self.shutdown(runner)

    async def publish_demo(self) -> None:
        from streams.runtime.demo import demo_phases, demo_school_directory

        await asyncio.to_thread(demo_school_directory, self.engine)
        phases = demo_phases(self.topology, self.services.clock.now())
        for phase in phases:
            await asyncio.to_thread(send_raw, phase, self.connection, self.services.producer_keys)
            await self.drain()
        print(f"demo day published: {sum(map(len, phases))} events", flush=True)

    async def measure_lag(self) -> None:
        """Keep consumer lag per partition (against the true log end) for the dashboard and /metrics."""
        topics = [spec.name for spec in self.topology.all_specs]
        while not self.stopping.is_set():
            try:
                lag = await asyncio.to_thread(admin.consumer_lag, self.connection, self.settings.app_id, topics,
                                              LAG_GAUGE_BUDGET_SECONDS)
                self.lag = {f"{topic}:{partition}": value for (topic, partition), value in sorted(lag.items())}
            except Exception as exc:  # noqa: BLE001 - a missed reading is shown as stale, never fatal
                log.warning("lag.unavailable", error=type(exc).__name__)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=5.0)
            except asyncio.TimeoutError:
                pass

    async def watch_workers(self) -> None:
        lag_task = asyncio.create_task(self.measure_lag())
        try:
            await self._watch_workers()
        finally:
            lag_task.cancel()

    async def _watch_workers(self) -> None:
        while not self.stopping.is_set():
            for index, worker in enumerate(self.workers):
                if worker.poll() is not None:
                    log.error("worker.died", index=index, returncode=worker.returncode)
                    await asyncio.sleep(WORKER_RESTART_DELAY_SECONDS)
                    self.workers[index] = self.spawn_worker(index)
                    self.write_runtime()
            if self.relay is not None and self.relay.poll() is not None:
                log.error("relay.died", returncode=self.relay.returncode)
                await asyncio.sleep(WORKER_RESTART_DELAY_SECONDS)
                self.relay = self.spawn_relay()
                self.write_runtime()
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass

    async def stop_relay(self) -> None:
        """After the workers: let the relay publish what they delivered last (bounded), then stop it."""
        if self.relay is None or self.relay.poll() is not None:
            return
        deadline = time.monotonic() + min(self.settings.drain_timeout_seconds, 20)
        while time.monotonic() < deadline and await asyncio.to_thread(unrelayed, self.engine):
            await asyncio.sleep(0.5)
        self.relay.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.relay.wait, 20)
        except subprocess.TimeoutExpired:
            self.relay.kill()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait (bounded) until the workers have committed everything published so far."""
        deadline = time.monotonic() + (self.settings.drain_timeout_seconds if timeout is None else timeout)
        topics = [spec.name for spec in self.topology.all_specs]
        while time.monotonic() < deadline:
            try:
                lag = await asyncio.to_thread(admin.consumer_lag, self.connection, self.settings.app_id, topics)
            except Exception as exc:  # noqa: BLE001 - broker trouble on the way out: stop anyway
                log.warning("drain.failed", error=type(exc).__name__)
                return
            if sum(lag.values()) == 0:
                return
            await asyncio.sleep(0.5)
        log.warning("drain.timeout", seconds=self.settings.drain_timeout_seconds)

    async def shutdown(self, runner: web.AppRunner) -> None:
        print("stopping: draining in-flight events…", flush=True)
        if self.is_ready()[0]:
            await self.drain()
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                await asyncio.to_thread(worker.wait, 20)
            except subprocess.TimeoutExpired:
                worker.kill()
        await self.stop_relay()
        await runner.cleanup()
        if self.mail is not None:
            self.mail.stop()
        if self.broker is not None:
            self.broker.stop()
        Path(self.settings.runtime_file).unlink(missing_ok=True)
        print("stopped.", flush=True)
