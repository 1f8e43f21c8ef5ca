"""`.honk.toml` parsing: the full schema, defaults, detection fallback, and errors that name the line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from honk.domain import AgentSettings, BuildSpec, MergeSettings, RepoConfig, VerifyCommand
from honk.errors import InvalidRepoConfig
from honk.verify.config import is_valid_branch_name, load_repo_config

FULL = """\
setup = "pip install -e ."
setup_timeout = 300
max_rounds = 3

[[verify]]
name = "lint"
run = "ruff check ."

[[verify]]
name = "test"
run = "python3 -m unittest"
timeout = 120

[build]
run = "python3 build.py"
artifacts = ["dist/*.zip", "out/report.html"]
preview = "dist/site"
timeout = 600

[merge]
target = "release/1.x"
mode = "fast-forward"

[agent]
name = "command"
model = "gpt-x"
command = "aider --yes --message {prompt}"
scenario = ".honk/scenario.toml"
timeout = 1200
"""


def config(tmp_path: Path, text: str) -> RepoConfig:
    (tmp_path / ".honk.toml").write_text(text)
    return load_repo_config(tmp_path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(InvalidRepoConfig) as info:
        config(tmp_path, text)
    return str(info.value)


def test_full_file(tmp_path: Path) -> None:
    assert config(tmp_path, FULL) == RepoConfig(
        verify=[
            VerifyCommand(name="lint", run="ruff check ."),
            VerifyCommand(name="test", run="python3 -m unittest", timeout_s=120),
        ],
        build=BuildSpec(
            run="python3 build.py",
            artifacts=["dist/*.zip", "out/report.html"],
            preview_dir="dist/site",
            timeout_s=600,
        ),
        setup="pip install -e .",
        setup_timeout_s=300,
        merge=MergeSettings(target="release/1.x", mode="fast-forward"),
        max_rounds=3,
        agent=AgentSettings(
            name="command",
            model="gpt-x",
            command="aider --yes --message {prompt}",
            scenario=".honk/scenario.toml",
            timeout_s=1200,
        ),
        source="file",
    )


def test_no_file_means_detected(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module x\n")
    assert load_repo_config(tmp_path) == RepoConfig(
        verify=[VerifyCommand(name="lint", run="go vet ./..."), VerifyCommand(name="test", run="go test ./...")],
        source="detected",
    )


def test_file_without_verify_fills_it_from_detection(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = config(tmp_path, 'setup = "make deps"\n')
    assert result.source == "file"
    assert result.setup == "make deps"
    assert result.verify == [VerifyCommand(name="test", run="python3 -m pytest -q")]
    assert result.build is None and result.merge.mode == "merge" and result.max_rounds is None


def test_explicit_empty_verify_list_turns_detection_off(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    assert config(tmp_path, "verify = []\n").verify == []


def test_inline_tables_work_too(tmp_path: Path) -> None:
    result = config(
        tmp_path, 'build = { run = "make", artifacts = ["a.txt"] }\nverify = [{ name = "t", run = "true" }]\n'
    )
    assert result.build == BuildSpec(run="make", artifacts=["a.txt"])
    assert result.verify == [VerifyCommand(name="t", run="true")]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = error(tmp_path, 'setup = "x"\n\n[build]\nrun "make"\n')
    assert message.startswith(".honk.toml line 4: invalid TOML: ")
    assert "(at line" not in message
    unterminated = error(tmp_path, 'setup = "x"\nmax_rounds = 3\nbad = [1,\n')
    assert unterminated.startswith(".honk.toml line ")
    assert "invalid TOML" in unterminated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[verify]]\nname = "a"\nrun = "x"\n\n[[verify]]\nname = "b"\ntimeout = -3\nrun = "y"\n',
            ".honk.toml line 7: verify[1].timeout must be a positive number (got -3)",
        ),
        ('[[verify]]\nname = "a"\n', ".honk.toml line 1: verify[0].run is required"),
        ('[[verify]]\nrun = "x"\n', ".honk.toml line 1: verify[0].name is required"),
        (
            '\n[[verify]]\nname = "Unit Tests"\nrun = "x"\n',
            '.honk.toml line 3: verify[0].name must be made of a-z, 0-9, _ and - only (got "Unit Tests")',
        ),
        (
            '[[verify]]\nname = "t"\nrun = "a"\n[[verify]]\nname = "t"\nrun = "b"\n',
            '.honk.toml line 5: verify[1].name "t" is already used by verify[0]',
        ),
        (
            '[[verify]]\nname = "t"\nrun = "  "\n',
            '.honk.toml line 3: verify[0].run must be a non-empty string (got "  ")',
        ),
        ('[[verify]]\nname = "t"\nrun = "x"\ntimout = 5\n', ".honk.toml line 4: unknown key verify[0].timout"),
        ('max_rounds = 3\n[verfy]\nname = "t"\n', ".honk.toml line 2: unknown key verfy"),
        ('setup = "x"\nmax_rounds = 0\n', ".honk.toml line 2: max_rounds must be a whole number from 1 to 50 (got 0)"),
        ("max_rounds = 51\n", ".honk.toml line 1: max_rounds must be a whole number from 1 to 50 (got 51)"),
        ("max_rounds = 2.5\n", ".honk.toml line 1: max_rounds must be a whole number from 1 to 50 (got 2.5)"),
        ("setup_timeout = true\n", ".honk.toml line 1: setup_timeout must be a positive number (got true)"),
        ('setup = ""\n', '.honk.toml line 1: setup must be a non-empty string (got "")'),
        (
            '[verify]\nname = "t"\n',
            ".honk.toml line 1: verify must be an array of tables, written [[verify]] (got a table)",
        ),
        ('setup = "x"\n\n[build]\nartifacts = ["a"]\n', ".honk.toml line 3: build.run is required"),
        (
            '[build]\nrun = "x"\n\nartifacts = ["dist/*", "../secrets/*"]\n',
            '.honk.toml line 4: build.artifacts[1] must be a relative path inside the repo (got "../secrets/*")',
        ),
        (
            '[build]\nrun = "x"\npreview = "/var/www"\n',
            '.honk.toml line 3: build.preview must be a relative path inside the repo (got "/var/www")',
        ),
        ('[build]\nrun = "x"\npreview = "site/../../x"\n', ".honk.toml line 3: build.preview must be a relative path"),
        (
            '[build]\nrun = "x"\nartifacts = "dist/*"\n',
            '.honk.toml line 3: build.artifacts must be an array of globs (got "dist/*")',
        ),
        ('[build]\nrun = "x"\n[build.extra]\nk = 1\n', ".honk.toml line 3: unknown key build.extra"),
        ('build = "make"\n', '.honk.toml line 1: build must be a table (got "make")'),
        (
            '[merge]\ntarget = "main"\nmode = "rebase"\n',
            '.honk.toml line 3: merge.mode must be "merge" or "fast-forward" (got "rebase")',
        ),
        (
            '[merge]\n\ntarget = "feature..x"\n',
            '.honk.toml line 3: merge.target must be a valid git branch name (got "feature..x")',
        ),
        ('[agent]\ncommand = "aider --yes"\n', ".honk.toml line 2: agent.command must contain {prompt}"),
        (
            '[agent]\nscenario = "C:\\\\x.toml"\n',
            ".honk.toml line 2: agent.scenario must be a relative path inside the repo",
        ),
        ("[agent]\ntimeout = 0\n", ".honk.toml line 2: agent.timeout must be a positive number (got 0)"),
        ("[agent]\ntimeout = inf\n", ".honk.toml line 2: agent.timeout must be a positive number (got inf)"),
        (
            'verify = [{ name = "t", run = "x", timeout = -1 }]\n',
            ".honk.toml line 1: verify[0].timeout must be a positive number (got -1)",
        ),
    ],
)
def test_schema_errors_name_line_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    message = error(tmp_path, '[merge]\nbranch = "main"\n')
    assert message == ".honk.toml line 2: unknown key merge.branch (known keys: mode, target, update)"


def test_quoted_keys_and_comments_still_find_the_line(tmp_path: Path) -> None:
    text = '# settings\n[ "build" ]  # the build\n"run" = "x"\n"timeout" = -1\n'
    assert error(tmp_path, text) == ".honk.toml line 4: build.timeout must be a positive number (got -1)"


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / ".honk.toml").write_bytes(b'setup = "\xff"\n')
    with pytest.raises(InvalidRepoConfig, match=r"^\.honk\.toml line 1: .*UTF-8"):
        load_repo_config(tmp_path)


def test_symlink_out_of_the_repo_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text('setup = "x"\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".honk.toml").symlink_to(outside)
    with pytest.raises(InvalidRepoConfig, match="outside the repo"):
        load_repo_config(repo)


BRANCHES = [
    "main",
    "release/1.x",
    "feature/a-b_c",
    "v1.2",
    "a@b",
    "ü-unicode",
    "",
    "-x",
    "HEAD",
    "@",
    "a..b",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "/a",
    "a/",
    "a//b",
    ".a",
    "a/.b",
    "a.lock",
    "a/b.lock/c",
    "a.",
    "a@{1}",
    "a\x7fb",
    "a\tb",
]


@pytest.mark.parametrize("name", BRANCHES)
def test_branch_names_agree_with_git_check_ref_format(name: str, tmp_path: Path) -> None:
    git = subprocess.run(["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True)
    # Git accepts "@" as a branch name, but everywhere else it means HEAD: Honk refuses it.
    assert is_valid_branch_name(name) is (git.returncode == 0 and name != "@")


def test_a_config_from_an_older_history_still_loads() -> None:
    # Tasks started before `[merge]` was a table carry its two keys flat, by field name.
    old = {"verify": [{"name": "t", "run": "x", "timeout_s": 5}], "merge_target": "rel", "merge_mode": "fast-forward"}
    loaded = RepoConfig.model_validate(old)
    assert (loaded.merge.target, loaded.merge.mode, loaded.verify[0].timeout_s) == ("rel", "fast-forward", 5)
    # And what travels now comes back as it went.
    assert RepoConfig.model_validate_json(loaded.model_dump_json()) == loaded


def test_a_file_may_not_use_the_history_spellings(tmp_path: Path) -> None:
    assert error(tmp_path, 'merge_target = "rel"\n').startswith(".honk.toml line 1: unknown key merge_target")
    assert error(tmp_path, '[[verify]]\nname = "t"\nrun = "x"\ntimeout_s = 5\n').startswith(
        ".honk.toml line 4: unknown key verify[0].timeout_s"
    )
    assert error(tmp_path, 'source = "detected"\n').startswith(".honk.toml line 1: unknown key source")
