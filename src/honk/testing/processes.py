"""Real Honk processes for tests: a Temporal dev server, workers and a web server on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from honk.composition.up import free_port, temporal_argv, temporal_binary, wait_for_http, wait_for_port
from honk.domain import ForgeRef, TaskState, TaskView
from honk.errors import UserFacingError
from honk.events import StoredEvent

# The server fires timers up to a second late by default (it batches them); tests wait on short
# timers (a task polling its pull request), so they get them on time.
PRECISE_TIMERS = ["--dynamic-config-value", 'history.timerProcessorMaxTimeShift="10ms"']


class TemporalDevServer:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port, self.log = free_port(), root / "temporal.log"
        self._start("Temporal dev server")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop(self.proc)

    def start_again(self) -> None:
        """After `stop()`: the server again on the same address and SQLite file (workflows persist in it)."""
        self._start("Temporal dev server (restarted)")

    def _start(self, what: str) -> None:
        db = self.log.parent / "temporal.db"
        self.proc = subprocess.Popen(
            temporal_argv(temporal_binary(), db, self.port, free_port()) + PRECISE_TIMERS,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - handed to the child
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, self.proc, what, self.log)


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """A bounded wait for a condition (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class HonkStack:
    """`honk server` plus `honk worker` processes sharing one data dir and a private task queue."""

    def __init__(
        self,
        root: Path,
        temporal_address: str,
        extra_env: dict[str, str] | None = None,
        egress: Path | None = None,
        policy: str | None = None,
        worker_env: dict[str, str] | None = None,
        **settings: str,
    ) -> None:
        """`egress`: the fakes' addresses and CA (honk.testing.egress_worker), for workers whose egress
        proxy reaches them by their real names. `policy`: an access policy's TOML, written beside the
        stack and named by HONK_POLICY_FILE. `worker_env`: the first worker's own settings (a machine of
        its own: HONK_DATA_DIR, HONK_PREVIEW_ADDRESS)."""
        self.root, self.port, self.egress = root, free_port(), egress
        if policy is not None:
            root.mkdir(parents=True, exist_ok=True)
            (root / "policy.toml").write_text(policy)
            settings = {"policy_file": str(root / "policy.toml"), **settings}
        self.env = {
            **os.environ,
            **(extra_env or {}),
            "HONK_DATA_DIR": str(root / "data"),
            "HONK_TEMPORAL_ADDRESS": temporal_address,
            "HONK_TASK_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "HONK_PORT": str(self.port),
            "HONK_HOST": "127.0.0.1",
            "HONK_HEARTBEAT_TIMEOUT_S": "3",
            "HONK_ANONYMOUS": "true",
            **{f"HONK_{k.upper()}": v for k, v in settings.items()},
        }
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.server = self._start_server()
        self.start_worker(**(worker_env or {}))
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start_server(self, attempts: int = 3) -> subprocess.Popen[bytes]:
        """The server on a free port — again on another one when something else took the port between
        `free_port` and the server's bind (other tests' servers and fakes bind loopback ports too)."""
        log = self.logs / "server.log"
        for attempt in range(attempts):
            server = self._spawn("server")
            try:
                wait_for_http(f"{self.url}/healthz", server, "honk server", log)
                return server
            except UserFacingError:
                taken = "address already in use" in log.read_text(errors="replace")
                if not taken or attempt == attempts - 1:
                    raise
                _stop(server)
                log.write_text("")
                self.port = free_port()
                self.env["HONK_PORT"] = str(self.port)
        raise AssertionError("unreachable")

    def _spawn(self, role: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{role}.log", "ab")  # noqa: SIM115 - handed to the child
        command = [sys.executable, "-m", "honk", role]
        if role == "worker" and self.egress is not None:
            command = [sys.executable, "-m", "honk.testing.egress_worker", str(self.egress)]
        return subprocess.Popen(
            command,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        """Another worker; `env` overrides its environment (HONK_DATA_DIR: a machine of its own)."""
        self.workers.append(self._spawn("worker", **env))
        return self.workers[-1]

    @property
    def db_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.root / 'data' / 'honk.db'}"

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        _stop(worker, signal.SIGKILL)

    def honk(
        self, *args: str, check: bool = False, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs the real `honk` CLI against this stack; `input` is piped to it (else its stdin is empty)."""
        env = {**self.env, "HONK_URL": self.url}
        return subprocess.run(
            [sys.executable, "-m", "honk", *args],
            env=env,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def restart_server(self) -> None:
        """The web server stopped and started again on the same port and data (workers keep running)."""
        _stop(self.server)
        self.server = self._spawn("server")
        wait_for_http(f"{self.url}/healthz", self.server, "honk server (restarted)", self.logs / "server.log")

    def add_user(self, email: str, role: str) -> tuple[str, str]:
        """An account made with the real CLI: its sign-in link and its API token."""
        out = self.honk("user", "add", email, "--role", role)
        assert out.returncode == 0, out.stderr
        link, token = re.search(r"(http\S+/login/\S+)", out.stdout), re.search(r"(honk_\S+)", out.stdout)
        assert link and token, out.stdout
        return link.group(1), token.group(1)

    def add_repo(self, name: str, url: str, branch: str = "main", forge: ForgeRef | None = None) -> None:
        """`honk repo add` through the API; `forge`: the repo is on GitHub or GitLab (its pull requests there)."""
        body: dict[str, object] = {"name": name, "url": url, "branch": branch}
        if forge is not None:
            body["forge"] = forge.model_dump(exclude_none=True)
        r = self.http.post("/api/repos", json=body)
        assert r.status_code == 201, r.text

    def ask(self, repo: str, text: str, **extra: str) -> TaskView:
        r = self.http.post("/api/tasks", json={"repo": repo, "text": text, **extra})
        assert r.status_code in (200, 201), r.text
        return TaskView.model_validate(r.json())

    def task(self, task_id: str) -> TaskView:
        r = self.http.get(f"/api/tasks/{task_id}")
        assert r.status_code == 200, r.text
        return TaskView.model_validate(r.json())

    def wait_for(self, task_id: str, *states: TaskState, timeout_s: float = 90) -> TaskView:
        wait_until(
            lambda: self.task(task_id).state in states,
            timeout_s,
            f"task {task_id} to reach {[s.value for s in states]} (now {self.task(task_id).state.value}; "
            f"logs in {self.logs})",
        )
        return self.task(task_id)

    def events(self, task_id: str) -> list[StoredEvent]:
        import json

        out = []
        with self.http.stream("GET", f"/api/tasks/{task_id}/events", params={"follow": "false"}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    out.append(StoredEvent.model_validate(json.loads(line[5:])))
        return out

    def preview(self, task_id: str, path: str = "/", cookie: str | None = None) -> httpx.Response:
        """GET `path` from the task's preview origin (`<task>.localhost:<port>`, sent as the Host header to
        the server's loopback address), as a browser holding `cookie` (the preview's) asks for it."""
        headers = {"host": f"{task_id}.localhost:{self.port}"} | ({"cookie": cookie} if cookie else {})
        with httpx.Client(base_url=self.url, timeout=30.0) as browser:  # its own cookie jar: only `cookie`
            return browser.get(path, headers=headers, follow_redirects=False)

    def preview_cookie(self, task_id: str) -> str:
        """The preview's cookie, as a browser gets it by opening a signed link (the API makes one)."""
        link = self.http.post(f"/api/tasks/{task_id}/preview/link", json={})
        assert link.status_code == 200, link.text
        entered = self.preview(task_id, link.json()["url"].split(f":{self.port}", 1)[1])
        assert entered.status_code == 303, entered.text
        return entered.headers["set-cookie"].split(";", 1)[0]

    def kinds(self, task_id: str) -> list[str]:
        return [e.event.kind for e in self.events(task_id)]

    def stop(self) -> None:
        for proc in [*self.workers, self.server]:
            _stop(proc)
        self.http.close()
