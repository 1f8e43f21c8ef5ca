"""A real, private PostgreSQL for tests: its own cluster in a temp dir, on a free loopback port.

Nothing is shared with a system cluster (Debian's on 5432, if any): `initdb` makes a new one,
`pg_ctl` starts it with its socket in the temp dir, and `stop()` removes it all.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from honk.ports import free_port

START_TIMEOUT_S = 30
USER = "postgres"  # the cluster's superuser role, whoever the OS user is
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and the server binding it


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's bindir, else Debian's /usr/lib/postgresql/<v>/bin
    (the newest), else the PATH. pg_config can belong to a client-only package, so each is checked."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in debian), key=lambda p: _version(p.parent.name), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found: `apt-get install postgresql` (.ci/run does)."
    )


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


class PostgresServer:
    """One PostgreSQL server for a test session; `url` is its first database, `new_database()` makes more."""

    def __init__(self, database: str = "honk") -> None:
        self.bindir = postgres_bindir()
        self.password = secrets.token_urlsafe(16)
        # PostgreSQL refuses to run as root; then the cluster belongs to the `postgres` system user.
        self._as = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
        # Not under pytest's temp dir: that is private to the current user (0700), and the
        # `postgres` user must reach the data dir.
        self.root = Path(tempfile.mkdtemp(prefix="honk-postgres-"))
        self.data, self.sockets, self.log = self.root / "data", self.root / "sockets", self.root / "postgres.log"
        self.port = 0
        self._running = False
        try:
            self._init()
            self._start()
            self.url = self.new_database(database)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)  # should the session end without its fixture's teardown

    def _init(self) -> None:
        self.sockets.mkdir(mode=0o700)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password)
        if self._as:
            try:
                owner = pwd.getpwnam(USER)
            except KeyError:
                raise RuntimeError(
                    "PostgreSQL will not run as root, and there is no `postgres` user to run it "
                    "as (Debian's postgresql package creates one)."
                ) from None
            for path in (self.root, self.sockets, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        # Password auth over TCP (what Honk's URL uses); the socket dir is private to the owner.
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--no-locale",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()

    def _start(self) -> None:
        # Durability is not what these tests are about: skipping fsyncs keeps them fast.
        options = (
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections=200 -k {self.sockets} -h 127.0.0.1"
        )
        for attempt in range(PORT_ATTEMPTS):
            self.port = free_port()
            # -w -t: pg_ctl itself waits, bounded, until the server accepts connections.
            done = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                f"{options} -p {self.port}",
                "start",
                check=False,
            )
            if done.returncode == 0:
                self._running = True
                self._wait_ready()
                return
            if attempt == PORT_ATTEMPTS - 1 or "could not bind" not in self._log_tail():
                raise RuntimeError(f"PostgreSQL did not start: {done.stdout}{done.stderr}\n{self._log_tail()}")

    def _wait_ready(self) -> None:
        """pg_ctl's wait already covers start-up; pg_isready confirms TCP (what the tests use), bounded."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL is not accepting connections after {START_TIMEOUT_S}s\n{self._log_tail()}")

    def new_database(self, name: str | None = None) -> str:
        """Creates an empty database; returns its SQLAlchemy URL (asyncpg)."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return f"postgresql+asyncpg://{USER}:{self.password}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._run(
                "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", str(START_TIMEOUT_S), "stop", check=False
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Only the server's own tools need its OS user; clients connect over TCP with the password.
        as_owner = self._as if tool in ("initdb", "pg_ctl") else []
        done = subprocess.run(
            [*as_owner, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            cwd=self.root,  # the postgres user may not be allowed into ours
            env={**os.environ, "PGPASSWORD": self.password},
            timeout=START_TIMEOUT_S + 10,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}\n{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""
