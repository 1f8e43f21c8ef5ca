"""The test guard: a deterministic read of a unified diff for ways a change can game its checks.

It flags deleted test files, removed test functions, added skips, removed assertions, loosened
numeric thresholds, disabled checks and dependency downgrades. Findings go back to the agent; if
they remain they are shown prominently when the change is delivered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from honk.domain import Record

TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec)(/|$)|(^|/)test_[^/]*$|_test\.\w+$|\.(test|spec)\.\w+$")
TEST_DEF = re.compile(
    r"^\s*(async\s+def|def)\s+(test\w*)|^\s*(it|test)\s*\(\s*['\"]|^\s*func\s+(Test\w+)|^\s*#\[test\]"
)
SKIP = re.compile(
    r"@pytest\.mark\.(skip|xfail)|@unittest\.skip|\bself\.skipTest\(|\b(it|describe|test)\.skip\(|"
    r"\bx(it|describe)\(|\bt\.Skip\(|#\[ignore\]|@Disabled\b|@Ignore\b|pytest\.skip\("
)
ASSERT = re.compile(r"\bassert\w*\b|\bexpect\(|\bself\.assert\w+\(|\bt\.(Error|Fatal)f?\(|assert_eq!|assert!")
DISABLE = re.compile(
    r"#\s*noqa|#\s*type:\s*ignore|eslint-disable|@ts-ignore|@ts-nocheck|#\s*pragma:\s*no cover|"
    r"\|\|\s*true\b|continue-on-error:\s*true|--no-verify|allow_failure:\s*true"
)
NUMBER = re.compile(r"\d+(?:\.\d+)?")
DEP_FILES = re.compile(r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|package\.json|Cargo\.toml|go\.mod|setup\.cfg)$")
DEP_LINE = re.compile(r"""^\s*["']?([A-Za-z0-9_.@/-]+)["']?\s*(?:[:=]=?|>=|~=|\s)\s*["'^~>=v]*(\d+(?:\.\d+)*)""")


class Finding(Record):
    kind: str  # deleted_test_file, removed_test, added_skip, removed_assertion, loosened_threshold, disabled_check, dependency_downgrade
    file: str
    detail: str

    def line(self) -> str:
        return f"{self.kind.replace('_', ' ')} in {self.file}: {self.detail}"


@dataclass
class _FileDiff:
    path: str
    deleted: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def inspect(diff: str) -> list[Finding]:
    findings: list[Finding] = []
    for f in _parse(diff):
        findings += _inspect_file(f)
    return findings


def _parse(diff: str) -> list[_FileDiff]:
    files: list[_FileDiff] = []
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            files.append(_FileDiff(path=line.split(" b/", 1)[-1]))
        elif not files:
            continue
        elif line.startswith("deleted file mode"):
            files[-1].deleted = True
        elif line.startswith("+++ ") or line.startswith("--- "):
            continue
        elif line.startswith("+"):
            files[-1].added.append(line[1:])
        elif line.startswith("-"):
            files[-1].removed.append(line[1:])
    return files


def _inspect_file(f: _FileDiff) -> list[Finding]:
    out: list[Finding] = []
    is_test = bool(TEST_PATH.search(f.path))
    if f.deleted and is_test:
        return [Finding(kind="deleted_test_file", file=f.path, detail="the whole test file was deleted")]
    if is_test:
        removed_tests = _names(f.removed) - _names(f.added)
        out += [
            Finding(kind="removed_test", file=f.path, detail=f"{name} was removed") for name in sorted(removed_tests)
        ]
        out += [
            Finding(kind="added_skip", file=f.path, detail=line.strip()[:120]) for line in f.added if SKIP.search(line)
        ]
        lost = _count(f.removed, ASSERT) - _count(f.added, ASSERT)
        if lost > 0:
            out.append(Finding(kind="removed_assertion", file=f.path, detail=f"{lost} fewer assertion(s)"))
        out += _loosened(f)
    out += [
        Finding(kind="disabled_check", file=f.path, detail=line.strip()[:120])
        for line in f.added
        if DISABLE.search(line) and not any(DISABLE.search(r) for r in f.removed)
    ]
    if DEP_FILES.search(f.path):
        out += _downgrades(f)
    return out


def _names(lines: list[str]) -> set[str]:
    names = set()
    for line in lines:
        m = TEST_DEF.search(line)
        if m:
            names.add(next((g for g in m.groups()[1:] if g and g not in ("it", "test")), line.strip()[:60]))
    return names


def _count(lines: list[str], pattern: re.Pattern[str]) -> int:
    return sum(1 for line in lines if pattern.search(line))


def _loosened(f: _FileDiff) -> list[Finding]:
    """An assertion whose numbers changed while its shape stayed: a tolerance or threshold moved."""
    out = []
    removed = {NUMBER.sub("#", line.strip()): line for line in f.removed if ASSERT.search(line) and NUMBER.search(line)}
    for line in f.added:
        shape = NUMBER.sub("#", line.strip())
        if (
            shape in removed
            and removed[shape].strip() != line.strip()
            and re.search(r"tol|delta|places|<|>|approx|within", shape)
        ):
            out.append(
                Finding(
                    kind="loosened_threshold",
                    file=f.path,
                    detail=f"{removed[shape].strip()[:60]} → {line.strip()[:60]}",
                )
            )
    return out


def _downgrades(f: _FileDiff) -> list[Finding]:
    before = _versions(f.removed)
    out = []
    for name, version in _versions(f.added).items():
        if name in before and _key(version) < _key(before[name]):
            out.append(Finding(kind="dependency_downgrade", file=f.path, detail=f"{name} {before[name]} → {version}"))
    return out


def _versions(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        m = DEP_LINE.match(line)
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
