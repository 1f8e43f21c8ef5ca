"""Honk's credentials stay Honk's: not in any log line, not in a commit (the agent and the sandbox not
seeing them is in test_attacks.py and tests/claude)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from honk.domain import TaskState
from honk.testing.processes import HonkStack
from repos import calc_files

KEY = "sk-ant-never-commit-me-0123456789"
BOT = "xoxb-never-log-me-0123456789"
SIGNING = "signing-never-log-me-0123456789"


def test_no_log_line_carries_a_secret_whoever_writes_it(tmp_path):
    script = textwrap.dedent(f"""
        import logging, sys
        from honk.logs import configure
        from honk.settings import Settings
        configure(Settings(anthropic_api_key={KEY!r}, slack_bot_token={BOT!r}, data_dir={str(tmp_path)!r}))
        own = logging.getLogger("some.library")
        own.propagate = False
        own.addHandler(logging.StreamHandler(sys.stdout))  # a library's own handler, not Honk's
        own.warning("calling with Authorization: Bearer %s", {BOT!r})
        logging.getLogger("honk").error("key=" + {KEY!r})
        try:
            raise RuntimeError("token {BOT} refused")
        except RuntimeError:
            own.exception("failed")
        print("done")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    printed = out.stdout + out.stderr
    assert "done" in printed and printed.count("[redacted]") >= 3, printed
    assert KEY not in printed and BOT not in printed


def test_a_full_run_at_debug_level_logs_no_secret(tmp_path, temporal, make_remote):
    from repos import DIRECT_FIX

    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        extra_env={"HONK_LOG_LEVEL": "DEBUG"},
        anthropic_api_key=KEY,
        slack_signing_secret=SIGNING,
        judge="false",
    )
    try:
        stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
        task = stack.ask("calc", "make add() add", agent="scripted")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    finally:
        stack.stop()
    logs = "".join(p.read_text(errors="replace") for p in stack.logs.glob("*.log"))
    assert "DEBUG" in logs  # the test would prove nothing if nothing were logged
    assert KEY not in logs and SIGNING not in logs


def test_a_change_carrying_a_credential_is_never_committed(tmp_path, temporal, make_remote):
    leak = f"""[[step]]
message = "Configured the client."
[[step.edit]]
path = "settings.py"
content = "API_KEY = '{KEY}'\\n"
"""
    stack = HonkStack(tmp_path / "honk", temporal.address, anthropic_api_key=KEY, judge="false")
    try:
        remote = make_remote(calc_files(leak))
        stack.add_repo("calc", remote.url)
        task = stack.ask("calc", "connect the client", agent="scripted")
        done = stack.wait_for(task.id, TaskState.failed, TaskState.ready)
        assert done.state == TaskState.failed
        assert "credential" in done.reason and "settings.py" in done.reason and KEY not in done.reason
        mirror = tmp_path / "honk" / "data" / "mirrors" / "calc.git"
        # (the scenario file in the repo holds the key, by construction: look at what Honk committed)
        made = subprocess.run(
            ["git", "log", "--all", "--name-only", "--format=%H", "--not", "refs/remotes/origin/main"],
            cwd=mirror,
            capture_output=True,
            text=True,
        ).stdout
        assert "settings.py" not in made, made
        audit = stack.http.get("/api/audit", params={"task": task.id}).json()
        assert any(a["rule"] == "secrets.commit" and a["outcome"] == "violation" for a in audit), audit
    finally:
        stack.stop()
