"""The real bundled Claude Code binary does Honk's work, driven by the scripted fake model."""

from __future__ import annotations

import pytest

from conftest import SECRETS
from honk.demo.fake_model import InjectedError, JudgeVerdict, Scenario, ToolCall, Turn
from honk.domain import TaskState
from honk.testing.gitrepo import run_git
from honk.testing.processes import wait_until
from repos import calc_files, sample_files

CLAUDE_TOML = '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\ntimeout = 60\n[agent]\nname = "claude"\n'


def read(path: str) -> Turn:
    return Turn(tools=[ToolCall(name="Read", input={"file_path": "{cwd}/" + path})])


def edit(path: str, old: str, new: str) -> Turn:
    return Turn(
        tools=[ToolCall(name="Edit", input={"file_path": "{cwd}/" + path, "old_string": old, "new_string": new})]
    )


VERIFY = Turn(tools=[ToolCall(name="mcp__honk__verify", input={})])


def claude_repo() -> dict[str, str]:
    return calc_files("") | {".honk.toml": CLAUDE_TOML}


def test_edit_verify_fail_fix_pass_and_deliver(claude_stack, model, make_remote):
    model.play(
        Scenario(
            turns=[
                read("calc.py"),
                edit("calc.py", "return a - b", "return a * b"),
                VERIFY,
                edit("calc.py", "return a * b", "return a + b"),
                VERIFY,
                Turn(text="Fixed add(): it subtracted instead of adding."),
            ]
        )
    )
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason

    events = [e.event for e in claude_stack.events(task.id)]
    results = [e for e in events if e.kind == "agent_tool_result" and e.tool == "mcp__honk__verify"]
    assert len(results) == 2 and "6 != 5" in results[0].output and "All checks pass" in results[1].output
    assert any(e.kind == "agent_said" and "subtracted" in e.text for e in events)
    live = [e for e in events if e.kind == "agent_usage" and not e.final]
    assert len(live) == 6 and live[-1].cost_usd > live[0].cost_usd > 0, "usage and estimated cost, live"
    final = [e for e in events if e.kind == "agent_usage" and e.final]
    assert final and final[-1].cost_usd > 0
    assert done.cost_usd and done.cost_usd > 0 and done.model
    first = model.agent_requests()[0].body
    assert first["model"] == "claude-sonnet-4-5"
    assert "make add() add" in str(first["messages"]) and "verify" in str(first["messages"])


def claude_repo_with(extra: str) -> dict[str, str]:
    return calc_files("") | {".honk.toml": CLAUDE_TOML + extra}


FIX = [read("calc.py"), edit("calc.py", "return a - b", "return a + b")]  # Edit needs a Read first


def test_follow_up_resumes_the_same_session(claude_stack, model, make_remote):
    model.play(
        Scenario(
            turns=[
                *FIX,
                Turn(text="Fixed add()."),
                edit("calc.py", "def add(a, b):", 'def add(a, b):\n    """Adds."""'),
                Turn(text="Added a docstring."),
            ]
        )
    )
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    assert claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready
    first_session = [r for r in model.agent_requests()]
    claude_stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring"})
    wait_until(lambda: claude_stack.kinds(task.id).count("task_ready") == 2, 120, "the follow-up delivered")

    follow = model.agent_requests()[len(first_session)].body
    history = str(follow["messages"])
    assert "make add() add" in history and "Fixed add()." in history, "the earlier conversation was resumed"
    assert "add a docstring" in history
    ended = [e.event for e in claude_stack.events(task.id) if e.event.kind == "agent_finished"]
    assert len(ended) == 2 and "Added a docstring." in ended[1].summary


def test_a_follow_up_resumes_the_conversation_on_another_worker(claude_stack, model, make_remote, tmp_path):
    """Machine one ran the request; machine two (a data dir of its own, the same database) takes the
    follow-up: the session comes from Honk's store, not machine one's disk, and the model sees the
    earlier conversation."""
    model.play(
        Scenario(
            turns=[
                *FIX,
                Turn(text="Fixed add()."),
                edit("calc.py", "def add(a, b):", 'def add(a, b):\n    """Adds."""'),
                Turn(text="Added a docstring."),
            ]
        )
    )
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    assert claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready
    first_session = len(model.agent_requests())
    claude_stack.kill_worker(claude_stack.workers[0])  # machine one is gone, with its disk
    machine_two = tmp_path / "machine-two"
    claude_stack.start_worker(HONK_DATA_DIR=str(machine_two), HONK_DATABASE_URL=claude_stack.db_url)

    claude_stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring"})
    wait_until(lambda: claude_stack.kinds(task.id).count("task_ready") == 2, 120, "the follow-up delivered")
    assert (machine_two / "workspaces" / task.id).is_dir(), "machine two ran the follow-up"
    history = str(model.agent_requests()[first_session].body["messages"])
    assert "make add() add" in history and "Fixed add()." in history, "the earlier conversation was resumed"
    assert "add a docstring" in history


def test_a_denied_git_push_is_reported_and_nothing_is_pushed(claude_stack, model, make_remote):
    model.play(
        Scenario(
            turns=[
                *FIX,
                Turn(
                    tools=[
                        ToolCall(name="Bash", input={"command": "git push origin HEAD:main", "description": "ship it"})
                    ]
                ),
                Turn(text="Fixed add(); I could not push, Honk will."),
            ]
        )
    )
    remote = make_remote(claude_repo())
    before = remote.head()
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add and push it")
    assert claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready
    denied = [e.event for e in claude_stack.events(task.id) if e.event.kind == "agent_tool_denied"]
    assert len(denied) == 1 and "git push" in denied[0].input and "Honk commits, pushes" in denied[0].reason
    tool_results = str(model.agent_requests()[2].body["messages"])
    assert "Honk commits, pushes" in tool_results, "the model saw why"
    assert remote.head() == before and remote.branches() == ["main"]


def test_crossing_the_cost_budget_stops_the_run_and_keeps_the_work(claude_stack, model, make_remote):
    model.play(Scenario(turns=[*FIX, read("calc.py"), read("calc.py"), read("calc.py"), Turn(text="done")]))
    remote = make_remote(claude_repo_with("max_cost_usd = 0.015\n"))
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=120)
    assert done.state == TaskState.failed
    assert "cost budget" in done.reason and f"honk/{task.id}" in done.reason
    mirror = claude_stack.root / "data" / "mirrors" / "calc.git"
    assert "return a + b" in run_git("--git-dir", str(mirror), "show", f"honk/{task.id}:calc.py")


def test_crossing_the_turn_budget_stops_the_run_and_says_so(claude_stack, model, make_remote):
    model.play(Scenario(turns=[*FIX, *[read("calc.py")] * 6, Turn(text="done")]))
    remote = make_remote(claude_repo_with("max_turns = 3\n"))
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=120)
    assert "turn budget" in done.reason and f"honk/{task.id}" in done.reason
    assert len(model.agent_requests()) <= 4, "stopped promptly"


def test_the_judge_vetoes_scope_creep_and_the_agent_corrects_it(claude_stack, model, make_remote):
    model.play(
        Scenario(
            turns=[
                *FIX,
                read("README.md"),
                edit("README.md", "# calc", "# calc — now with a new logo and roadmap"),
                Turn(text="Fixed."),
                edit("README.md", "# calc — now with a new logo and roadmap", "# calc"),
                Turn(text="Reverted README."),
            ],
            judge=[JudgeVerdict(ok=False, reason="The README rewrite is unrelated to fixing add()."), JudgeVerdict()],
        )
    )
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason
    events = [e.event for e in claude_stack.events(task.id)]
    reviews = [e for e in events if e.kind == "change_reviewed"]
    assert [r.judge_ok for r in reviews] == [False, True]
    assert [e.reason for e in events if e.kind == "agent_started"] == ["request", "review"]
    judge_call = [r for r in model.requests if r.kind == "judge"][0].body
    assert "make add() add" in str(judge_call["messages"]) and "README.md" in str(judge_call["messages"])
    ready = [e for e in events if e.kind == "task_ready"][-1]
    assert ready.warnings == []


def test_the_test_guard_flags_a_deleted_test_and_it_is_shown_at_delivery(claude_stack, model, make_remote):
    files = claude_repo()
    files["test_calc.py"] = files["test_calc.py"].replace(
        "    def test_add(self):",
        "    def test_zero(self):\n        self.assertEqual(add(0, 0), 0)\n\n    def test_add(self):",
    )
    model.play(
        Scenario(
            turns=[
                read("test_calc.py"),
                edit("test_calc.py", "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n", ""),
                Turn(text="The tests pass now."),
            ]
        )
    )
    remote = make_remote(files)
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make the tests pass")
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180)
    assert done.state == TaskState.ready, done.reason
    events = [e.event for e in claude_stack.events(task.id)]
    reviews = [e for e in events if e.kind == "change_reviewed"]
    assert reviews and all(any("test_add was removed" in f for f in r.guard_findings) for r in reviews)
    review_prompt = str(model.agent_requests()[-1].body["messages"])
    assert "test_add was removed" in review_prompt, "the findings went back to the agent"
    ready = [e for e in events if e.kind == "task_ready"][-1]
    assert any("test_add was removed" in w for w in ready.warnings), "shown prominently at delivery"


@pytest.mark.parametrize(
    "status,kind,message,says,runs",
    [
        (401, "authentication_error", "invalid x-api-key", ("invalid API key", "ANTHROPIC_API_KEY"), 1),  # final
        (529, "overloaded_error", "Overloaded", ("overloaded", "529"), 3),  # retried by Temporal, then reported
    ],
    ids=["invalid-key", "overloaded"],
)
def test_api_errors_become_messages_and_retry_only_when_it_can_help(
    claude_stack, model, make_remote, status, kind, message, says, runs
):
    model.play(
        Scenario(turns=[Turn(text="hi", error=InjectedError(status=status, type=kind, message=message, times=99))])
    )
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    done = claude_stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=180)
    assert all(part in done.reason for part in says), done.reason
    assert claude_stack.kinds(task.id).count("agent_started") == runs


def test_the_agent_environment_holds_none_of_honks_secrets(claude_stack, model, make_remote):
    model.play(
        Scenario(
            turns=[
                Turn(tools=[ToolCall(name="Bash", input={"command": "printenv", "description": "look around"})]),
                *FIX,
                Turn(text="Fixed."),
            ]
        )
    )
    remote = make_remote(claude_repo_with('allow = ["printenv"]\n'))
    claude_stack.add_repo("calc", remote.url)
    task = claude_stack.ask("calc", "make add() add")
    assert claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120).state == TaskState.ready
    printed = [
        e.event.output
        for e in claude_stack.events(task.id)
        if e.event.kind == "agent_tool_result" and e.event.tool == "Bash"
    ][0]
    assert "HOME=" in printed and "agent-homes" in printed, printed
    for name, value in SECRETS.items():
        assert value not in printed and name not in printed
    assert "HONK_" not in printed
    # The model API key stays with Honk's key proxy: the agent (and its shell, in the same sandbox)
    # holds a per-run token in its place, which the proxy swaps for the key on the way out.
    assert "sk-ant-test-key" not in printed
    token = next(line.split("=", 1)[1] for line in printed.splitlines() if line.startswith("ANTHROPIC_API_KEY="))
    sent = [r.headers.get("x-api-key") for r in model.agent_requests()]
    assert sent and set(sent) == {"sk-ant-test-key"} and token not in sent


def test_the_demo_model_fixes_the_sample_with_the_real_binary(claude_stack, model, make_remote):
    from honk.demo.scenario import demo_scenario

    model.play(demo_scenario())
    remote = make_remote(sample_files())
    claude_stack.add_repo("sample", remote.url)
    task = claude_stack.ask("sample", "fix the crash when a playlist is empty", agent="claude")
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180)
    assert done.state == TaskState.ready, done.reason
    assert done.preview_url == f"http://{task.id}.localhost:{claude_stack.port}"  # the live preview's origin
    page = claude_stack.preview(task.id, "/", claude_stack.preview_cookie(task.id))
    assert page.status_code == 200 and "Playlists" in page.text
    verifies = [
        e.event.output
        for e in claude_stack.events(task.id)
        if e.event.kind == "agent_tool_result" and e.event.tool == "mcp__honk__verify"
    ]
    assert "test_empty_playlist_summary" in verifies[0] and "All checks pass" in verifies[-1]


def test_an_unreachable_api_is_retried_then_reported(tmp_path, temporal, make_remote):
    from honk.ports import free_port
    from honk.testing.processes import HonkStack

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        anthropic_base_url=closed,
        anthropic_api_key="sk-ant-test-key",
        claude_max_retries="0",
    )
    try:
        remote = make_remote(claude_repo())
        stack.add_repo("calc", remote.url)
        task = stack.ask("calc", "make add() add")
        done = stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=240)
        assert "cannot reach the model API" in done.reason and closed in done.reason
    finally:
        stack.stop()


def test_a_missing_binary_fails_the_task_with_what_to_do(tmp_path, temporal, model, make_remote):
    from honk.testing.processes import HonkStack

    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        anthropic_base_url=model.url,
        anthropic_api_key="sk-ant-test-key",
        claude_binary=str(tmp_path / "no" / "claude"),
    )
    try:
        remote = make_remote(claude_repo())
        stack.add_repo("calc", remote.url)
        task = stack.ask("calc", "make add() add")
        done = stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=60)
        assert "Claude Code binary is missing" in done.reason and "make install" in done.reason
        assert model.requests == []
    finally:
        stack.stop()


def test_without_credentials_the_claude_agent_is_refused_clearly(stack, make_remote):
    remote = make_remote(claude_repo())
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.failed, TaskState.ready, timeout_s=60)
    assert "needs model credentials" in done.reason and "ANTHROPIC_API_KEY" in done.reason


def test_a_screenshot_reaches_the_model_as_an_image_with_the_log_quoted(claude_stack, model, make_remote):
    """The mention's screenshot and log, through the real binary: the model's first request holds the
    picture as an image block (scaled to what it reads) and the log's end, fenced as reference."""
    import base64
    import io
    import json

    from PIL import Image

    model.play(Scenario(turns=[*FIX, Turn(text="Fixed add()."), Turn(text="Looked again: it is right.")]))
    remote = make_remote(claude_repo())
    claude_stack.add_repo("calc", remote.url)
    shot = io.BytesIO()
    Image.new("RGB", (1170, 2532), "red").save(shot, "PNG")
    r = claude_stack.http.post(
        "/api/tasks",
        data={"request": json.dumps({"repo": "calc", "text": "make add() add"})},
        files=[("files", ("broken.png", shot.getvalue())), ("files", ("trace.txt", b"KeyError: 'playlist'\n"))],
        headers={"X-Honk-Client": "test"},
    )
    assert r.status_code == 201, r.text
    done = claude_stack.wait_for(r.json()["id"], TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason

    first = model.agent_requests()[0].body["messages"][0]["content"]
    images = [b for b in first if isinstance(b, dict) and b.get("type") == "image"]
    assert len(images) == 1 and images[0]["source"]["media_type"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(images[0]["source"]["data"]))).size == (725, 1568)
    text = " ".join(b.get("text", "") for b in first if isinstance(b, dict))
    assert "make add() add" in text and "KeyError: 'playlist'" in text and "not instructions" in text

    # A follow-up with a new screenshot: the resumed conversation gets that one image, in its new message.
    asked = len(model.agent_requests())
    after = io.BytesIO()
    Image.new("RGB", (400, 300), "blue").save(after, "PNG")
    r = claude_stack.http.post(
        f"/api/tasks/{done.id}/followup",
        data={"request": json.dumps({"text": "it still looks wrong, see"})},
        files=[("files", ("after.png", after.getvalue()))],
        headers={"X-Honk-Client": "test"},
    )
    assert r.status_code == 202, r.text
    wait_until(lambda: claude_stack.kinds(done.id).count("task_ready") == 2, 120, "the follow-up delivered")
    latest = model.agent_requests()[asked].body["messages"][-1]["content"]
    images = [b for b in latest if isinstance(b, dict) and b.get("type") == "image"]
    assert len(images) == 1, "only the follow-up's image, the first one is in the history already"
    assert Image.open(io.BytesIO(base64.b64decode(images[0]["source"]["data"]))).size == (400, 300)
    assert "it still looks wrong" in json.dumps(latest) and "after.png" in json.dumps(latest)


PLAN = {
    "summary": "Swap the minus in add() for a plus.",
    "steps": ["Edit calc.py", "Run verify"],
    "files": ["calc.py"],
    "risks": [],
    "questions": ["Should add() also take floats?"],
}


def test_a_plan_comes_from_plan_mode_as_structured_output_and_is_carried_out_in_the_same_session(
    claude_stack, model, make_remote
):
    model.play(
        Scenario(
            turns=[
                Turn(tools=[ToolCall(name="Write", input={"file_path": "{cwd}/notes.txt", "content": "hacked"})]),
                read("calc.py"),
                Turn(tools=[ToolCall(name="StructuredOutput", input=PLAN)]),
                *FIX,
                Turn(text="Done as planned."),
            ]
        )
    )
    claude_stack.add_repo("calc", make_remote(claude_repo()).url)
    task = claude_stack.ask("calc", "make add() add", plan=True)  # type: ignore[arg-type]
    planned = claude_stack.wait_for(task.id, TaskState.plan_ready, TaskState.failed, timeout_s=120)
    assert planned.state == TaskState.plan_ready, planned.reason
    events = [e.event for e in claude_stack.events(task.id)]
    [proposed] = [e for e in events if e.kind == "plan_proposed"]
    assert proposed.plan.model_dump() == PLAN, "the plan is Claude Code's structured output, not parsed prose"
    # Plan mode asks Honk's tool policy before an edit; the policy refuses it (the read-only mount would too).
    assert [e.tool for e in events if e.kind == "agent_tool_denied"] == ["Write"]
    refused = [e for e in events if e.kind == "agent_tool_result" and e.tool == "Write"]
    assert refused and refused[0].is_error and "You are planning" in refused[0].output
    planning = model.agent_requests()
    assert "StructuredOutput" in {t["name"] for t in planning[0].body["tools"]}
    assert "Plan first" in str(planning[0].body["messages"])

    r = claude_stack.http.post(f"/api/tasks/{task.id}/plan/approve", json={"version": 1})
    assert r.status_code == 202, r.text
    done = claude_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason
    carrying_out = str(model.agent_requests()[len(planning)].body["messages"])
    assert "Should add() also take floats?" in carrying_out, "the planning conversation was resumed"
    assert "Your plan was approved" in carrying_out and "verify" in carrying_out
    mirror = claude_stack.root / "data" / "mirrors" / "calc.git"
    assert "return a + b" in run_git("--git-dir", str(mirror), "show", f"honk/{task.id}:calc.py")


def test_a_mention_under_a_discussion_with_a_screenshot_reaches_the_model_as_image_and_quoted_thread(
    tmp_path, temporal, model, slack, make_remote
):
    """The phone story end to end with the real binary: `@honk fix this` with a screenshot, under the
    thread where the bug was discussed. The model's first request holds the picture as an image block
    and the thread, quoted with its authors and fenced as reference; the request itself is the mention."""
    import base64
    import io
    import json

    from PIL import Image

    from honk.testing.fake_slack import SLACK_SECRET, event_body, mention_event, sign
    from honk.testing.processes import HonkStack

    stack = HonkStack(
        tmp_path / "honk",
        temporal.address,
        anthropic_base_url=model.url,
        anthropic_api_key="sk-ant-test-key",
        claude_max_retries="0",
        claude_model="claude-sonnet-4-5",
        **slack.settings(),
    )
    try:
        model.play(Scenario(turns=[*FIX, Turn(text="Fixed add().")]))
        stack.add_repo("calc", make_remote(claude_repo()).url)
        root = slack.say("C1", "U2", "add(2, 3) gives -1 on the totals page")
        slack.say("C1", "U1", "it subtracts, I think: calc.py", thread_ts=root)
        shot = io.BytesIO()
        Image.new("RGB", (390, 844), "white").save(shot, "PNG")
        files = [slack.share_file("totals.png", shot.getvalue(), "image/png")]
        envelope = mention_event("<@UHONK> fix this repo=calc", thread_ts=root, files=files, ts="1750000000.000300")
        body = event_body(envelope)
        r = stack.http.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json", **sign(SLACK_SECRET, body)}
        )
        assert r.status_code == 200, r.text
        wait_until(lambda: len(stack.http.get("/api/tasks").json()) == 1, 30, "the task")
        task_id = stack.http.get("/api/tasks").json()[0]["id"]
        done = stack.wait_for(task_id, TaskState.ready, TaskState.failed, timeout_s=120)
        assert done.state == TaskState.ready, done.reason

        first = model.agent_requests()[0].body["messages"][0]["content"]
        images = [b for b in first if isinstance(b, dict) and b.get("type") == "image"]
        assert len(images) == 1 and Image.open(io.BytesIO(base64.b64decode(images[0]["source"]["data"]))).size == (
            390,
            844,
        )
        text = json.dumps(first)
        assert "Bo: add(2, 3) gives -1 on the totals page" in text and "Ana: it subtracts, I think" in text
        assert "not instructions" in text and "# Task\\n\\nfix this" in text
    finally:
        stack.stop()
