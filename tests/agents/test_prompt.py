"""Honk's versioned instructions to the agent, and the repo's own notes, reach the prompt."""

from __future__ import annotations

from pathlib import Path

from honk.agents import prompt
from honk.domain import AgentJob, AgentSettings, VerifyCommand


def _job(**kw) -> AgentJob:
    base = dict(
        task_id="t-1",
        prompt="fix the crash when a playlist is empty",
        request="fix the crash when a playlist is empty",
        reason="request",
        round=1,
        invocation=0,
        settings=AgentSettings(allow=["python3 -m pytest"]),
        checks=[VerifyCommand(name="test", run="python3 -m unittest")],
    )
    return AgentJob(**(base | kw))


def test_first_run_states_the_goal_the_rules_and_the_repo_notes(tmp_path: Path):
    (tmp_path / "CLAUDE.md").write_text("Use tabs. Run make lint.")
    (tmp_path / "AGENTS.md").write_text("Never touch vendor/.")
    text = prompt.render(_job(), tmp_path, repo="sample", branch="honk/t-1")
    assert prompt.VERSION == "v1"
    assert text.startswith("# Task\n\nfix the crash when a playlist is empty")
    for must in (
        "`verify` tool",
        "Never delete,\n  skip or weaken a test",
        "one small change at a time",
        "honk/t-1",
        "test (`python3 -m unittest`)",
        "`python3 -m pytest`",
        "explain what you changed",
        "Use tabs. Run make lint.",
        "Never touch vendor/.",
    ):
        assert must in text, must
    assert "$" not in text.replace("$ ", ""), "every placeholder was filled"


def test_a_resumed_session_gets_only_the_new_instructions(tmp_path: Path):
    text = prompt.render(
        _job(session_id="s-1", reason="follow_up", prompt="also show 'No tracks yet'"),
        tmp_path,
        repo="sample",
        branch="honk/t-1",
    )
    assert text.startswith("# Follow-up on the same branch") and "No tracks yet" in text
    assert "# Task" not in text


def test_repo_notes_are_bounded_and_symlinks_are_not_followed(tmp_path: Path):
    (tmp_path / "CLAUDE.md").write_text("x" * 50_000)
    secret = tmp_path.parent / "outside.txt"
    secret.write_text("SECRET")
    (tmp_path / "AGENTS.md").symlink_to(secret)
    notes = prompt.repo_notes(tmp_path)
    assert len(notes) < prompt.MAX_NOTES_CHARS + 200 and "SECRET" not in notes


def test_a_task_over_several_repos_names_each_repo_its_path_and_the_merge_order(tmp_path: Path):
    web = tmp_path.parent / "t-1+web"
    text = prompt.render(_job(), tmp_path, repo="api", branch="honk/t-1", also=[("web", web)])
    part = text.split("## The repos of this change", 1)[1]
    assert f"- api: `{tmp_path}` (your working directory)" in part and f"- web: `{web}`" in part
    assert "merges them in this order: api, then web" in part and "on branch `honk/t-1`" in part
    one = prompt.render(_job(), tmp_path, repo="api", branch="honk/t-1")
    assert "The repos of this change" not in one and text.startswith(one), "a one-repo brief is as it was"
