"""Infer a repo's checks from its contents when it has no `[[verify]]` of its own."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from honk.domain import VerifyCommand

# Cheap checks first, so a failing lint is reported before a long test run.
_KIND_ORDER = ("format", "lint", "typecheck", "test", "build")
_NPM_SCRIPTS = ("lint", "typecheck", "test", "build")
# `npm init` writes this placeholder; running it can only fail.
_NPM_PLACEHOLDER = "no test specified"
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_MAKE_TARGETS = ("test", "lint")
# A rule line `a b: deps`, but not a `VAR := value` / `VAR ::= value` assignment.
_MAKE_RULE = re.compile(r"^([A-Za-z0-9_.\- ]+?)\s*::?(?![:=])")
# Directories that never hold the repo's own tests; skipping them keeps the scan fast.
_SKIP_DIRS = {"node_modules", "venv", "__pycache__", "build", "dist", "target", "site-packages"}
_MAX_SCANNED_FILES = 5000

_Candidate = tuple[str, str, str]  # (kind, command, ecosystem)


def detect_verifiers(workspace: Path) -> list[VerifyCommand]:
    """The checks a repo's own files imply, in a stable order; empty when nothing is recognised."""
    candidates = [
        *_make(workspace),
        *_python(workspace),
        *_node(workspace),
        *_go(workspace),
        *_rust(workspace),
        *_jvm(workspace),
    ]
    # The repo's own `make test` / `make lint` already decides how to run that kind of check.
    from_make = {kind for kind, _, eco in candidates if eco == "make"}
    candidates = [c for c in candidates if c[2] == "make" or c[0] not in from_make]
    named: list[tuple[int, VerifyCommand]] = []
    taken: set[str] = set()
    for kind, run, eco in candidates:
        # A polyglot repo keeps every suite; the first ecosystem gets the plain name.
        name = kind if kind not in taken else f"{kind}-{eco}"
        if name in taken:
            continue
        taken.add(name)
        named.append((_KIND_ORDER.index(kind), VerifyCommand(name=name, run=run)))
    named.sort(key=lambda pair: pair[0])  # stable: ecosystem order within a kind
    return [cmd for _, cmd in named]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _make(ws: Path) -> list[_Candidate]:
    makefile = next((ws / n for n in _MAKEFILES if (ws / n).is_file()), None)
    if makefile is None:
        return []
    targets: set[str] = set()
    for line in _read(makefile).splitlines():
        match = _MAKE_RULE.match(line)
        if match:
            targets.update(match.group(1).split())
    return [(t, f"make {t}", "make") for t in _MAKE_TARGETS if t in targets]


def _test_files(ws: Path) -> list[Path]:
    found: list[Path] = []
    scanned = 0
    for root, dirs, files in os.walk(ws):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            scanned += 1
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                found.append(Path(root) / name)
        if scanned > _MAX_SCANNED_FILES:
            break
    return found


def _python(ws: Path) -> list[_Candidate]:
    pytest_cmd = [("test", "python3 -m pytest -q", "python")]
    pyproject = _read(ws / "pyproject.toml")
    if (
        (ws / "pytest.ini").is_file()
        or "[tool.pytest" in pyproject
        or "[tool:pytest]" in _read(ws / "setup.cfg")
        or "[pytest]" in _read(ws / "tox.ini")
        or (ws / "conftest.py").is_file()
        or (ws / "tests" / "conftest.py").is_file()
    ):
        return pytest_cmd
    tests = _test_files(ws)
    if not tests:
        return []
    sources = [_read(p) for p in tests]
    uses_pytest = "pytest" in pyproject or any("pytest" in src or re.search(r"^def test", src, re.M) for src in sources)
    if uses_pytest or not all("unittest" in src for src in sources):
        return pytest_cmd
    # Without an `__init__.py`, discovery from the root skips tests/ since Python 3.11.
    tests_dir = ws / "tests"
    if tests_dir.is_dir() and not (tests_dir / "__init__.py").is_file():
        return [("test", "python3 -m unittest discover -s tests", "python")]
    return [("test", "python3 -m unittest discover", "python")]


def _node(ws: Path) -> list[_Candidate]:
    if not (ws / "package.json").is_file():
        return []
    try:
        scripts = json.loads(_read(ws / "package.json")).get("scripts") or {}
    except (ValueError, AttributeError):
        return []  # a broken package.json is the agent's to fix, not a reason to fail detection
    if not isinstance(scripts, dict):
        return []
    out: list[_Candidate] = []
    for script in _NPM_SCRIPTS:
        body = scripts.get(script)
        if isinstance(body, str) and body.strip() and _NPM_PLACEHOLDER not in body:
            out.append((script, f"npm run {script}", "npm"))
    return out


def _go(ws: Path) -> list[_Candidate]:
    if not (ws / "go.mod").is_file():
        return []
    return [("lint", "go vet ./...", "go"), ("test", "go test ./...", "go")]


def _rust(ws: Path) -> list[_Candidate]:
    if not (ws / "Cargo.toml").is_file():
        return []
    out: list[_Candidate] = []
    if (ws / "rustfmt.toml").is_file() or (ws / ".rustfmt.toml").is_file():
        out.append(("format", "cargo fmt --check", "cargo"))
    out.append(("test", "cargo test", "cargo"))
    return out


def _jvm(ws: Path) -> list[_Candidate]:
    out: list[_Candidate] = []
    if (ws / "pom.xml").is_file():
        mvn = "./mvnw" if (ws / "mvnw").is_file() else "mvn"
        out.append(("test", f"{mvn} -q -B test", "maven"))
    if (ws / "build.gradle").is_file() or (ws / "build.gradle.kts").is_file():
        gradle = "./gradlew" if (ws / "gradlew").is_file() else "gradle"
        out.append(("test", f"{gradle} test", "gradle"))
    return out
