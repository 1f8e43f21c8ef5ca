"""Merge policy (one at a time per repo, fast-forward mode) and the command agent seam."""

from __future__ import annotations

import subprocess

from honk.domain import TaskState
from honk.testing.gitrepo import run_git
from repos import calc_files

# A stand-in for a CLI coding agent (aider, codex exec…): a real process given the prompt as argv.
FIXER = """import pathlib, re, sys
prompt = sys.argv[1]
slug = re.sub(r"[^a-z0-9]+", "-", prompt.splitlines()[0].lower()).strip("-")[:40]
pathlib.Path("notes").mkdir(exist_ok=True)
pathlib.Path("notes", slug + ".txt").write_text(prompt + "\\n")
calc = pathlib.Path("calc.py")
calc.write_text(calc.read_text().replace("a - b", "a + b"))
print("wrote notes/" + slug + ".txt")
"""


def command_repo(extra_toml: str = "") -> dict[str, str]:
    files = calc_files("")
    files[".honk.toml"] = (
        '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\n'
        '[agent]\nname = "command"\ncommand = "python3 tools/fixer.py {prompt}"\n' + extra_toml
    )
    files["tools/fixer.py"] = FIXER
    return files


def test_command_agent_gets_the_prompt_as_one_argument(stack, make_remote):
    remote = make_remote(command_repo())
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "note this; rm -rf / $(whoami)")
    done = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.ready, done.reason
    said = [e.event.text for e in stack.events(task.id) if e.event.kind == "agent_said"]
    assert said and "notes/note-this-rm-rf-whoami.txt" in said[-1], said


def test_two_merges_at_the_same_moment_both_land_and_main_stays_green(stack, make_remote, tmp_path):
    remote = make_remote(command_repo())
    stack.add_repo("calc", remote.url)
    tasks = [stack.ask("calc", text) for text in ("first change", "second change")]
    for t in tasks:
        assert stack.wait_for(t.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    for t in tasks:
        assert stack.http.post(f"/api/tasks/{t.id}/merge", json={"by": "bo"}).status_code == 202
    for t in tasks:
        done = stack.wait_for(t.id, TaskState.merged, TaskState.failed)
        assert done.state == TaskState.merged, done.reason

    checkout = tmp_path / "main-now"
    run_git("clone", "--quiet", remote.url, str(checkout))
    assert (checkout / "notes" / "first-change.txt").exists() and (checkout / "notes" / "second-change.txt").exists()
    assert subprocess.run(["python3", "-m", "unittest", "-q"], cwd=checkout).returncode == 0
    merged_later = [t for t in tasks if "main_moved" in stack.kinds(t.id)]
    assert len(merged_later) == 1, "the second merge brought the first one in and re-verified"


def test_fast_forward_mode_puts_the_branch_itself_on_main(stack, make_remote):
    remote = make_remote(command_repo('[merge]\nmode = "fast-forward"\n'))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "ff please")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready
    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
    merged = stack.wait_for(task.id, TaskState.merged, TaskState.failed)
    assert merged.state == TaskState.merged, merged.reason
    assert len(run_git("--git-dir", remote.url, "log", "-1", "--format=%P", "main").split()) == 1, "no merge commit"
    assert f"Honk-Task: {task.id}" in remote.message()
    note = run_git("--git-dir", remote.url, "notes", "--ref=honk", "show", "main")
    assert "Approved-by: local" in note, "the approval is recorded in a note"
