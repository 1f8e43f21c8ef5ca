"""Keep the bundled sample repo and its scripted demo from drifting.

The sample (src/honk/sample/repo) is what a newcomer's first `honk up` request
runs against: its checks must pass on main, it must have the advertised bug
(the app crashes when a playlist is empty), and the scripted agent's steps in
.honk/scenario.toml must apply exactly and tell the intended story:
step 1 leaves a failing empty-playlist test, step 2 makes every check pass,
step 3 puts "No tracks yet" on the built page.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import subprocess
import tomllib
import zipfile

import pytest

from honk.sample import sample_repo_dir

NEW_PAGE_TEXT = "No tracks yet"


# --------------------------------------------------------------- helpers


def copy_sample(tmp_path: pathlib.Path) -> pathlib.Path:
    repo = tmp_path / "repo"
    shutil.copytree(sample_repo_dir(), repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist"))
    return repo


def load_toml(path: pathlib.Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def run(command: str, repo: pathlib.Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command the way Honk does: through the shell, in the repo, output captured."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        command,
        shell=True,
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {result.args}\n[exit {result.returncode}]\n{result.stdout}{result.stderr}"


def run_verify(repo: pathlib.Path) -> dict[str, subprocess.CompletedProcess[str]]:
    config = load_toml(repo / ".honk.toml")
    return {check["name"]: run(check["run"], repo, check["timeout"]) for check in config["verify"]}


def assert_verify_passes(repo: pathlib.Path) -> None:
    for name, result in run_verify(repo).items():
        assert result.returncode == 0, f"check {name!r} failed:\n{output(result)}"


def run_build(repo: pathlib.Path) -> str:
    """Run [build], check the artifacts and preview exist, return the built index.html."""
    build = load_toml(repo / ".honk.toml")["build"]
    result = run(build["run"], repo, build["timeout"])
    assert result.returncode == 0, f"build failed:\n{output(result)}"
    for pattern in build["artifacts"]:
        assert glob.glob(str(repo / pattern)), f"no artifact matches {pattern!r}"
    index = repo / "dist" / "site" / "index.html"
    assert index.is_file()
    archive = repo / "dist" / "playlist-site.zip"
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("index.html") == index.read_bytes()
    return index.read_text(encoding="utf-8")


def apply_step(repo: pathlib.Path, step: dict) -> None:
    """Apply one scenario step exactly as the scripted agent does; fail loudly on drift."""
    assert isinstance(step.get("message"), str) and step["message"].strip(), "every step needs a message"
    for edit in step.get("edit", []):
        rel = edit["path"]
        target = (repo / rel).resolve()
        assert target.is_relative_to(repo.resolve()), f"edit escapes the repo: {rel!r}"
        kinds = [key for key in ("replace", "content", "delete") if key in edit]
        assert len(kinds) == 1, f"edit of {rel!r} must have exactly one of replace/content/delete: {edit}"
        if "delete" in edit:
            assert edit["delete"] is True
            assert target.is_file(), f"cannot delete {rel!r}: no such file"
            target.unlink()
        elif "content" in edit:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(edit["content"], encoding="utf-8")
        else:
            assert "with" in edit, f"replace in {rel!r} has no `with`"
            assert target.is_file(), f"cannot edit {rel!r}: no such file"
            text = target.read_text(encoding="utf-8")
            occurrences = text.count(edit["replace"])
            if occurrences == 0:
                pytest.fail(f"scenario drift: replace text not found in {rel!r}:\n{edit['replace']}")
            # The agent replaces the first occurrence; keep the script unambiguous anyway.
            assert occurrences == 1, f"replace text occurs {occurrences} times in {rel!r}:\n{edit['replace']}"
            target.write_text(text.replace(edit["replace"], edit["with"], 1), encoding="utf-8")
    for command in step.get("commands", []):
        result = run(command, repo, 120)
        assert result.returncode == 0, f"step command failed:\n{output(result)}"


# ----------------------------------------------------------------- tests


def test_sample_repo_is_plain_package_data() -> None:
    root = sample_repo_dir()
    assert isinstance(root, pathlib.Path) and root.is_dir()
    for name in (".honk.toml", ".honk/scenario.toml", "README.md", "build.py", "playlist/__init__.py"):
        assert (root / name).is_file(), name
    assert not [p for p in root.rglob(".git") if p.is_dir()], "the sample must not contain a .git dir"
    config = load_toml(root / ".honk.toml")
    assert [check["name"] for check in config["verify"]] == ["lint", "test"]
    assert config["agent"] == {"name": "scripted", "scenario": ".honk/scenario.toml"}
    assert "the app crashes when a playlist is empty" in (root / "README.md").read_text().lower()


def test_pristine_checks_pass_and_build_produces_site(tmp_path: pathlib.Path) -> None:
    repo = copy_sample(tmp_path)
    results = run_verify(repo)
    for name, result in results.items():
        assert result.returncode == 0, f"check {name!r} failed on main:\n{output(result)}"
    assert "empty" not in output(results["test"]).lower(), "main must not test the empty case yet"
    page = run_build(repo)
    assert "Morning Run" in page and "Late Night Coding" in page
    assert '<meta name="viewport"' in page and "<style>" in page
    assert "http://" not in page and "https://" not in page, "no external assets"
    assert NEW_PAGE_TEXT not in page


def test_known_bug_empty_playlist_crashes(tmp_path: pathlib.Path) -> None:
    repo = copy_sample(tmp_path)
    snippet = "from playlist import summary; summary({'name': 'Fresh Finds', 'tracks': []})"
    result = run(f'python3 -c "{snippet}"', repo, 60)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stderr
    assert "average_duration" in result.stderr


def test_scenario_tells_the_whole_story(tmp_path: pathlib.Path) -> None:
    repo = copy_sample(tmp_path)
    steps = load_toml(repo / ".honk" / "scenario.toml")["step"]
    assert len(steps) == 3

    # Step 1: regression test + partial fix. Lint passes, the new test fails.
    apply_step(repo, steps[0])
    results = run_verify(repo)
    assert results["lint"].returncode == 0, output(results["lint"])
    test_run = results["test"]
    assert test_run.returncode != 0, "after step 1 the empty-playlist test must still fail"
    log = output(test_run)
    assert "test_empty_playlist_summary" in log
    assert "FAIL: test_empty_playlist" in log or "ERROR: test_empty_playlist" in log, log

    # Step 2: the complete fix. Every check passes and the build succeeds.
    apply_step(repo, steps[1])
    assert_verify_passes(repo)
    assert "test_empty_playlist_summary" in output(run_verify(repo)["test"])
    page = run_build(repo)
    assert NEW_PAGE_TEXT not in page

    # Step 3: follow-up, a visible change on the page with its test.
    apply_step(repo, steps[2])
    assert_verify_passes(repo)
    assert "test_empty_playlist_shows_no_tracks_yet" in output(run_verify(repo)["test"])
    page = run_build(repo)
    assert NEW_PAGE_TEXT in page
    assert "Fresh Finds" in page
