"""Pure pieces: task ids, prompts, the scripted agent's edits and the command agent's argv."""

from __future__ import annotations

from pathlib import Path

import pytest

from honk.agents.command import build_argv
from honk.agents.scripted import Edit, apply_edit
from honk.errors import UserFacingError
from honk.workflow import policy
from honk.workspace.files import WorkspaceFiles


def test_task_id_is_derived_from_the_request_id():
    a, b = policy.task_id_for("slack:C1:123.4"), policy.task_id_for("slack:C1:123.5")
    assert a == policy.task_id_for("slack:C1:123.4") and a != b
    assert policy.TASK_ID_RE.fullmatch(a)


def test_feedback_prompt_carries_errors_request_and_queued_follow_ups():
    text = policy.feedback_prompt("fix x", "## test failed\nE assert 1 == 2", ["also y"])
    assert "E assert 1 == 2" in text and "fix x" in text and "- also y" in text
    assert "do not weaken" in text


def test_scripted_edits_stay_inside_the_workspace(tmp_path: Path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    (tmp_path / "honk-data").mkdir()
    (root / "data").symlink_to(tmp_path / "honk-data")  # planted by the repo, pointing at Honk's files
    ws = WorkspaceFiles(root)
    apply_edit(ws, Edit(path="a.py", replace="x = 1", **{"with": "x = 2"}))
    apply_edit(ws, Edit(path="a.py", replace="x = 1", **{"with": "x = 2"}))  # a retry: already applied
    assert (root / "a.py").read_text() == "x = 2\n"
    for escape in ("../outside.txt", "data/canary"):
        with pytest.raises(UserFacingError, match="leaves the workspace"):
            apply_edit(ws, Edit(path=escape, content="no"))
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "honk-data" / "canary").exists()
    with pytest.raises(UserFacingError, match="inside .git"):
        apply_edit(ws, Edit(path=".git/config", content="no"))
    with pytest.raises(UserFacingError, match="not found"):
        apply_edit(ws, Edit(path="a.py", replace="nope", **{"with": "z"}))


def test_command_template_substitutes_the_prompt_as_one_argument():
    argv = build_argv("aider --yes --message {prompt} --model={model}", "fix it; rm -rf /", "m1")
    assert argv == ["aider", "--yes", "--message", "fix it; rm -rf /", "--model=m1"]
    with pytest.raises(UserFacingError, match="cannot be parsed"):
        build_argv("aider 'unclosed {prompt}", "x", None)
