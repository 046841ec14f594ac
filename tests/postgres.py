"""A throw-away PostgreSQL 15 server for the tests, from the machine's initdb/pg_ctl binaries.

Inputs: a temporary directory. Outputs: a running server on a free loopback port and its
SQLAlchemy URL; stopped at the end. Guarantee: never touches a system database; when the
tests run as root (as CI does) the server runs as an unprivileged user, since PostgreSQL
refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from streams.kafka.embedded_broker import free_port


def _runner() -> tuple[list[str], str | None]:
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"], user
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user (postgres/nobody) to run PostgreSQL as")


class PostgresServer:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "pgdata"
        self.port = free_port()
        self.prefix, self.user = _runner()

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout[-1500:]} {result.stderr[-1500:]}")

    def start(self) -> PostgresServer:
        for tool in ("initdb", "pg_ctl"):
            if not shutil.which(tool):
                raise RuntimeError(f"{tool} not on PATH: PostgreSQL 15 server binaries are required for these tests")
        self.base.mkdir(parents=True, exist_ok=True)
        if self.user:
            os.chmod(self.base, 0o777)
            shutil.chown(self.base, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "safeguard", "--auth=trust", "--no-sync", "-E", "UTF8")
        return self.resume()

    def resume(self) -> PostgresServer:
        """Start the server on its existing data (after ``stop``: an outage ends)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "postgres.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.base} -h 127.0.0.1 -c fsync=off -c full_page_writes=off", "start")
        return self

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=safeguard dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://safeguard@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run([*self.prefix, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60)
