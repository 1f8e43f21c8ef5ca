"""Checks inferred from real repo layouts in a temp dir; some are run to prove they actually work."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from honk.domain import VerifyCommand
from honk.verify.detect import detect_verifiers


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def pairs(root: Path) -> list[tuple[str, str]]:
    return [(c.name, c.run) for c in detect_verifiers(root)]


UNITTEST_CASE = "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        self.assertTrue(True)\n"


def test_empty_repo_has_no_checks(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "# hi\n", "main.py": "print('hi')\n"})
    assert detect_verifiers(tmp_path) == []


def test_pytest_signals(tmp_path: Path) -> None:
    for files in (
        {"pytest.ini": "[pytest]\n"},
        {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"},
        {"setup.cfg": "[tool:pytest]\ntestpaths = tests\n"},
        {"tests/conftest.py": ""},
        {"tests/test_a.py": "def test_a():\n    assert True\n"},
        {"pyproject.toml": "[project]\noptional-dependencies = {dev = ['pytest']}\n", "tests/test_a.py": UNITTEST_CASE},
    ):
        repo = tmp_path / str(len(list(tmp_path.iterdir())))
        write(repo, files)
        assert pairs(repo) == [("test", "python3 -m pytest -q")], files


def test_unittest_only_repo_gets_unittest_discover_that_really_finds_the_tests(tmp_path: Path) -> None:
    write(tmp_path, {"calc/__init__.py": "", "calc/test_calc.py": UNITTEST_CASE})
    assert detect_verifiers(tmp_path) == [VerifyCommand(name="test", run="python3 -m unittest discover")]
    proc = subprocess.run(["sh", "-c", "python3 -m unittest discover"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "Ran 1 test" in proc.stderr


def test_unittest_tests_dir_without_init_is_discovered_with_start_dir(tmp_path: Path) -> None:
    write(tmp_path, {"setup.cfg": "[metadata]\nname = x\n", "tests/test_calc.py": UNITTEST_CASE})
    [command] = detect_verifiers(tmp_path)
    assert command.run == "python3 -m unittest discover -s tests"
    proc = subprocess.run(["sh", "-c", command.run], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "Ran 1 test" in proc.stderr


def test_files_under_hidden_and_vendored_dirs_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, {".venv/lib/test_x.py": "def test_x(): pass\n", "node_modules/p/test_y.py": ""})
    assert detect_verifiers(tmp_path) == []


def test_package_json_scripts_in_fixed_order_without_the_npm_placeholder(tmp_path: Path) -> None:
    scripts = {
        "build": "vite build",
        "test": 'echo "Error: no test specified" && exit 1',
        "lint": "eslint .",
        "typecheck": "tsc --noEmit",
        "start": "node .",
    }
    write(tmp_path, {"package.json": json.dumps({"name": "w", "scripts": scripts})})
    assert pairs(tmp_path) == [
        ("lint", "npm run lint"),
        ("typecheck", "npm run typecheck"),
        ("build", "npm run build"),
    ]


def test_broken_package_json_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": "{not json", "go.mod": "module x\n"})
    assert [c.name for c in detect_verifiers(tmp_path)] == ["lint", "test"]


def test_makefile_targets_win_over_language_commands(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Makefile": "TEST_FLAGS := -q\n.PHONY: test lint\ntest lint: deps\n\t@echo ok\ndeps:\n\ttrue\n",
            "pyproject.toml": "[tool.pytest.ini_options]\n",
            "go.mod": "module x\n",
            "package.json": json.dumps({"scripts": {"test": "jest", "typecheck": "tsc"}}),
        },
    )
    # `make test` replaces pytest, go test and npm test; `make lint` replaces go vet.
    assert pairs(tmp_path) == [("lint", "make lint"), ("typecheck", "npm run typecheck"), ("test", "make test")]


def test_makefile_variable_assignment_is_not_a_target(tmp_path: Path) -> None:
    write(tmp_path, {"Makefile": "test := yes\nlint ::= no\nbuild:\n\ttrue\n", "go.mod": "module x\n"})
    assert pairs(tmp_path) == [("lint", "go vet ./..."), ("test", "go test ./...")]


def test_go_rust_and_jvm(tmp_path: Path) -> None:
    go = write(tmp_path / "go", {"go.mod": "module example.com/x\n"})
    assert pairs(go) == [("lint", "go vet ./..."), ("test", "go test ./...")]
    rust = write(tmp_path / "rust", {"Cargo.toml": "[package]\nname = 'x'\n"})
    assert pairs(rust) == [("test", "cargo test")]
    (rust / "rustfmt.toml").write_text("edition = '2021'\n")
    assert pairs(rust) == [("format", "cargo fmt --check"), ("test", "cargo test")]
    maven = write(tmp_path / "maven", {"pom.xml": "<project/>\n"})
    assert pairs(maven) == [("test", "mvn -q -B test")]
    gradle = write(tmp_path / "gradle", {"build.gradle.kts": "plugins {}\n"})
    assert pairs(gradle) == [("test", "gradle test")]
    (gradle / "gradlew").write_text("#!/bin/sh\n")
    assert pairs(gradle) == [("test", "./gradlew test")]


def test_polyglot_repo_keeps_every_suite_under_unique_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pytest.ini": "[pytest]\n",
            "package.json": json.dumps({"scripts": {"test": "vitest run", "lint": "eslint ."}}),
            "go.mod": "module x\n",
        },
    )
    found = pairs(tmp_path)
    assert found == [
        ("lint", "npm run lint"),
        ("lint-go", "go vet ./..."),
        ("test", "python3 -m pytest -q"),
        ("test-npm", "npm run test"),
        ("test-go", "go test ./..."),
    ]
    assert len({name for name, _ in found}) == len(found)
    assert detect_verifiers(tmp_path) == detect_verifiers(tmp_path)  # deterministic
