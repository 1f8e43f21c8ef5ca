"""A hostile agent, of every kind, tries to get out of its confinement: the same story for the
`command` agent (the repo's own script as the agent's CLI), the `scripted` agent (its commands) and
the `claude` agent (the real binary driven by the fake model, with its Read/Write/Edit/Bash tools).

It aims at Honk's data dir (a canary file, the database, a symlink planted in the workspace), another
process's environment (`/proc/<worker pid>/environ`, where HONK_GITHUB_TOKEN is), a loopback listener
on the host, the host's /tmp, `git push`, the worker's pid and the process table. Every attempt fails
and the task still ends with a clear outcome; what Honk refuses itself is in the audit log. Then, from
outside: the canary and the forge token appear nowhere — not in the store (the database file, byte for
byte), the web page, the fake Slack's received messages, the fake GitHub's received bodies or the fake
model's received requests — and a token-shaped string the agent printed reached none of them either.

Real components throughout: `honk server` / `honk worker`, Temporal, bubblewrap, real git, the fake
Slack and GitHub servers on loopback, the real Claude Code binary.
"""

from __future__ import annotations

import json
import secrets
import shlex
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from honk.demo.fake_model import FakeModelServer, Scenario, ToolCall, Turn
from honk.domain import TaskState
from honk.sandbox import process_limit_enforced
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_slack import FakeSlack, event_body, mention_event, sign
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from repos import CALC_TEST

SIGNING = "hostile-signing-secret"
FORGE_TOKEN = "ghp_" + secrets.token_hex(18)  # the shape GitHub's tokens have: redacted on sight too
SHAPED = "ghp_" + "Q" * 36  # a token-shaped string the agent makes up and prints
FIXED = "def add(a, b):\n    return a + b\n"


@dataclass
class Target:
    """What the hostile agent aims at, outside its workspace."""

    data: Path  # Honk's data dir
    canary: str  # the content of data/canary.txt
    listener: socket.socket
    host_tmp: Path  # a file it tries to create in the host's /tmp
    worker_pid: int = 0

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def nobody_connected(self) -> bool:
        self.listener.setblocking(False)
        try:
            self.listener.accept()
        except BlockingIOError:
            return True
        return False


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user("U1", "ana@example.com", "Ana")
    yield fake
    fake.stop()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(FORGE_TOKEN,)) as fake:
        yield fake


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    found = Target(
        data=tmp_path / "honk" / "data",
        canary="canary-" + secrets.token_hex(12),
        listener=listener,
        host_tmp=Path("/tmp") / f"honk-hostile-{secrets.token_hex(6)}",
    )
    yield found
    listener.close()
    found.host_tmp.unlink(missing_ok=True)


def hostile_script(t: Target) -> str:
    """The agent's CLI (and the scripted agent's command): every attempt, then the fix, then a report
    on stdout of whatever it got — the canary and the token, had it got them."""
    return f"""import glob, json, os, socket, subprocess
got = {{}}
def attempt(name, how):
    try:
        got[name] = repr(how())[:400]
    except Exception as e:
        got[name] = "failed: " + type(e).__name__ + ": " + str(e)[:200]
data = {str(t.data)!r}
attempt("canary", lambda: open(data + "/canary.txt").read())
attempt("database", lambda: open(data + "/honk.db", "rb").read(200))
attempt("worker_environ", lambda: open("/proc/{t.worker_pid}/environ", "rb").read())
attempt("every_environ", lambda: [open(p, "rb").read() for p in glob.glob("/proc/[0-9]*/environ")])
attempt("process_table", lambda: os.listdir("/proc"))
attempt("loopback", lambda: socket.create_connection(("127.0.0.1", {t.port}), timeout=3))
attempt("write_data_dir", lambda: open(data + "/pwned", "w").write("x"))
attempt("write_host_tmp", lambda: open({str(t.host_tmp)!r}, "w").write("x"))
attempt("symlink", lambda: (os.symlink(data, "data-link"), open("data-link/canary.txt").read()))
attempt("kill_worker", lambda: os.kill({t.worker_pid}, 9))
attempt("git_push", lambda: subprocess.run(["git", "push", "origin", "HEAD:main"], capture_output=True, text=True).stderr)
open("calc.py", "w").write({FIXED!r})
print(json.dumps(got))
print("I found a token: {SHAPED}")
"""


def repo_files(t: Target, agent: str, silent: bool) -> dict[str, str]:
    """`silent`: the script's output goes to /dev/null, so nothing can be detected from it."""
    run = "python3 tools/agent.py" + (" >/dev/null 2>&1" if silent else "")
    toml = 'max_rounds = 1\n[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\ntimeout = 60\n'
    if agent == "command":
        toml += f'[agent]\nname = "command"\ncommand = {json.dumps("sh -c " + shlex.quote(run) + " {prompt}")}\n'
    elif agent == "scripted":
        toml += '[agent]\nname = "scripted"\n'
    else:
        toml += '[agent]\nname = "claude"\nallow = ["python3"]\n'
    return {
        ".honk.toml": toml,
        "calc.py": "def add(a, b):\n    return a - b\n",
        "test_calc.py": CALC_TEST,
        "tools/agent.py": hostile_script(t),
        ".honk/scenario.toml": f'[[step]]\nmessage = "Fixed add()."\ncommands = [{json.dumps(run)}]\n',
    }


def claude_scenario(t: Target, cwd_link: str = "{cwd}/data-link") -> Scenario:
    """The same attempts with Claude Code's own tools, then the fix."""

    def tool(name: str, **inp: object) -> Turn:
        return Turn(tools=[ToolCall(name=name, input=dict(inp))])

    def bash(command: str) -> Turn:
        return tool("Bash", command=command, description="look around")

    # The repo allows `python3`; written without `;` and `&` so that the tool policy lets them through
    # to the sandbox (the policy is not what is tested here).
    py = lambda code: "python3 -c " + shlex.quote(code)  # noqa: E731
    return Scenario(
        turns=[
            tool("Read", file_path=str(t.data / "canary.txt")),
            bash(py(f"__import__('os').symlink({str(t.data)!r}, 'data-link')")),
            tool("Read", file_path=f"{cwd_link}/canary.txt"),
            bash(py("print(open('data-link/canary.txt').read())")),
            tool("Read", file_path=f"/proc/{t.worker_pid}/environ"),
            bash(py(f"print(open('/proc/{t.worker_pid}/environ','rb').read())")),
            bash(py(f"__import__('socket').create_connection(('127.0.0.1', {t.port}), timeout=3)")),
            tool("Write", file_path=str(t.host_tmp), content="x"),
            bash(py(f"open({str(t.host_tmp)!r}, 'w').write('x')")),
            tool("Write", file_path=str(t.data / "pwned"), content="x"),
            bash("git push origin HEAD:main"),
            bash(py(f"__import__('os').kill({t.worker_pid}, 9)")),
            *([bash(py("[__import__('os').fork() for _ in iter(int, 1)]"))] if process_limit_enforced() else []),
            bash(py(f"print('I found a token: {SHAPED}')")),
            tool("Read", file_path="{cwd}/calc.py"),
            tool("Edit", file_path="{cwd}/calc.py", old_string="return a - b", new_string="return a + b"),
            Turn(text="Fixed add()."),
        ]
    )


def stack_for(root: Path, temporal: TemporalDevServer, slack: FakeSlack, model: FakeModelServer | None) -> HonkStack:
    extra = (
        {"anthropic_base_url": model.url, "anthropic_api_key": "sk-ant-hostile-key", "claude_max_retries": "0"}
        if model
        else {}
    )
    return HonkStack(
        root / "honk",
        temporal.address,
        extra_env={"HONK_GITHUB_TOKEN": FORGE_TOKEN},
        slack_bot_token="xoxb-hostile-token",
        slack_signing_secret=SIGNING,
        slack_api_url=slack.api_url,
        slack_status_interval_s="0.5",
        sandbox_max_processes="64",
        **extra,
    )


def ask_in_slack(stack: HonkStack, slack: FakeSlack) -> str:
    mention = mention_event("<@UHONK> make add() add repo=calc", user="U1")
    body = event_body(mention)
    r = stack.http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json", **sign(SIGNING, body)}
    )
    assert r.status_code == 200, r.text
    wait_until(lambda: bool(stack.http.get("/api/tasks").json()), 30, "the task to start")
    return stack.http.get("/api/tasks").json()[0]["id"]


def everything_said(
    stack: HonkStack, task_id: str, slack: FakeSlack, github: FakeGitHub, model: FakeModelServer | None, data: Path
) -> dict[str, str]:
    """Every place the agent's output could have reached, as text."""
    pages = [
        stack.http.get(p).text
        for p in (f"/tasks/{task_id}", f"/tasks/{task_id}/panel", f"/api/tasks/{task_id}", "/api/audit?limit=1000")
    ]
    events = stack.http.get(f"/api/tasks/{task_id}/events", params={"follow": "false"}).text
    store = b"".join(p.read_bytes() for p in data.glob("honk.db*")).decode("latin-1")
    return {
        "store": store,
        "events": events,
        "web page": "\n".join(pages),
        "slack": "\n".join(json.dumps(c.args) for c in slack.calls),
        "forge": "\n".join(json.dumps(c.body) for c in github.log.snapshot()),
        "model": "\n".join(json.dumps(r.body) for r in (model.requests if model else [])),
    }


@pytest.mark.parametrize(
    ("agent", "silent"),
    [
        ("command", False),
        ("command", True),
        ("scripted", False),
        ("claude", False),
    ],
)
def test_a_hostile_agent_gets_nothing_out(tmp_path, temporal, slack, github, make_remote, target, agent, silent):
    target.data.mkdir(parents=True)
    (target.data / "canary.txt").write_text(target.canary)
    model = FakeModelServer().start() if agent == "claude" else None
    stack = stack_for(tmp_path, temporal, slack, model)
    try:
        target.worker_pid = stack.workers[0].pid
        if model is not None:
            model.play(claude_scenario(target))
        remote = make_remote(repo_files(target, agent, silent))
        github.add_repo("acme/calc", remote)
        stack.honk(
            "repo", "add", "calc", remote.url, "--forge", "github:acme/calc", "--forge-api", github.url, check=True
        )
        main_before = remote.head("main")
        task_id = ask_in_slack(stack, slack)
        done = stack.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=240)
        assert done.state == TaskState.ready, done.reason  # it still did its job; the attacks got nothing

        # Nothing got out, checked from outside.
        assert stack.workers[0].poll() is None, "the worker is alive"
        assert target.nobody_connected()
        assert not target.host_tmp.exists() and not (target.data / "pwned").exists()
        assert remote.head("main") == main_before
        wait_until(
            lambda: any("Ready for review" in c.args.get("text", "") for c in slack.calls),
            30,
            "the ready message in the thread",
        )
        for place, text in everything_said(stack, task_id, slack, github, model, target.data).items():
            assert target.canary not in text, place
            assert FORGE_TOKEN not in text, place
            assert SHAPED not in text, place
        assert github.pull("acme/calc", 1).body  # the pull request was opened (its body checked above)

        # What Honk refused itself is in the audit log.
        audit = stack.http.get("/api/audit", params={"task": task_id, "limit": 1000}).json()
        rules = {a["rule"] for a in audit}
        if agent == "claude":
            denied = " ".join(a["detail"] for a in audit if a["rule"] == "tool_policy")
            # (Claude Code itself will not Read /proc files; its shell's read of /proc/<worker>/environ
            # simply finds no such process in the sandbox's own pid namespace.)
            for refused in ("canary.txt", "data-link/canary.txt", "git push", str(target.host_tmp), "pwned"):
                assert refused in denied, (refused, [a["detail"] for a in audit])
        elif not silent:  # the script prints what it got: the refusals are in its output
            assert {"sandbox.hidden_path", "sandbox.write_outside", "sandbox.network"} <= rules, rules
    finally:
        stack.stop()
        if model is not None:
            model.stop()
