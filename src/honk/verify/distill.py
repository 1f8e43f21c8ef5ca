"""Boil a check's log down to what an agent needs to fix it: which tests failed, where, and why.

The agent's context is precious and a raw log is mostly noise, so this never returns the whole log.
"""

from __future__ import annotations

import re

TIMED_OUT = "timed out after the check's time limit"
_LINE_CAP = 300  # one minified-JS or diff line must not eat the whole budget
_FALLBACK_LINES = 15
_CONTINUATION_LINES = 4

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]")
_FRAME = re.compile(r'^File "(?P<path>[^"]+)", line \d+')
_LOCATION = re.compile(r"(?<![\w/.\\-])(?:[A-Za-z]:)?[\w./\\-]*\.[A-Za-z]\w*(?::\d+|\(\d+,\d+\))")
_LIBRARY = re.compile(r"site-packages|dist-packages|/lib/python\d|<frozen|node_modules/|node:internal")
_PYTEST_SECTION = re.compile(r"^=+ (.+?) =+$")
_NOISE = re.compile(
    r"^(npm (ERR!|error)|make(\[\d+\])?: \*\*\*|(SKIPPED|XFAIL|XPASS|PASSED)\b|=== RUN|--- PASS|ok\s)"
    r"|note: run with `RUST_BACKTRACE"
    r"|/(go/src|pkg/mod)/.*\+0x[0-9a-f]+$"  # go stack frames outside the repo
)
# (pattern, priority): 1 = which test failed, 2 = where and why, 3 = supporting detail.
_RULES: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"^(FAILED|ERROR) \S"), 1),  # pytest short summary; unittest's final count
    (re.compile(r"^(FAIL|ERROR): \S"), 1),  # unittest
    (re.compile(r"^--- FAIL: "), 1),  # go test
    (re.compile(r"^test \S+ \.\.\. FAILED$"), 1),  # cargo test
    (re.compile(r"^● (?!Console\b)"), 1),  # jest
    (re.compile(r"^(✕|×) "), 1),  # jest/vitest failing test lines
    (re.compile(r"^FAIL\b"), 2),  # jest file, go package
    (re.compile(r"^=*\s*\d+ (failed|errors?)\b.* in [\d.]+s"), 2),  # pytest count
    (re.compile(r"^(test result: FAILED|Tests:\s+\d+ failed|Found \d+ errors?)"), 2),
    (re.compile(r"^error(\[\w+\])?:|\b[Ee]rror( TS\d+)?:|\w+(Error|Exception)\b|^panic: |^fatal:"), 2),
    (re.compile(r"^--> "), 2),  # rustc
    (re.compile(r"^E\s+\S"), 3),  # pytest assertion detail; the first of a run is promoted
    (re.compile(r"^>\s{2,}\S|^>\s*\d+\s*\|"), 3),  # the failing source line (pytest, jest)
    (re.compile(r"^(Expected|Received|left|right)\b.*:"), 3),
    (re.compile(r"^\|\s*\^+\s*\S"), 3),  # rustc's caret under the problem
]

_Picked = list[tuple[int, str]]  # (priority, line) in log order


def distill(
    output: str,
    exit_code: int | None,
    timed_out: bool = False,
    max_lines: int = 40,
    max_chars: int = 4000,
) -> str:
    """One line on success; on failure the failing tests, their locations and error lines."""
    rows = [_ANSI.sub("", raw).rstrip() for raw in output.splitlines()]
    if exit_code == 0 and not timed_out:
        summary = _success_summary([row.strip() for row in rows])
        return _fit(["passed" + (f": {summary}" if summary else "")], max_lines, max_chars)
    picked = _pick(rows)
    if not picked:
        tail = [_short(row) for row in rows if row.strip()][-_FALLBACK_LINES:]
        if not tail and not timed_out:
            tail = [f"failed with exit code {exit_code} and printed nothing"]
        picked = [(2, line) for line in tail]
    if timed_out:
        picked.insert(0, (0, TIMED_OUT))
    unique: _Picked = []
    seen: set[str] = set()
    for priority, line in picked:
        if line not in seen:
            seen.add(line)
            unique.append((priority, line))
    return _cap(unique, max_lines, max_chars)


def _short(row: str) -> str:
    line = row.strip()
    return line if len(line) <= _LINE_CAP else line[: _LINE_CAP - 1] + "…"


def _pick(rows: list[str]) -> _Picked:
    picked: _Picked = []
    skipping = False  # inside pytest's "warnings summary": locations there are not failures
    in_warning = False  # inside a compiler warning, whose `-->` lines are not failures
    in_backtrace = False
    follow = 0  # lines after a Rust panic header that carry its message
    after_e = False
    i = 0
    while i < len(rows):
        line = _short(rows[i])
        i += 1
        section = _PYTEST_SECTION.match(line)
        if section:
            skipping = "warnings summary" in section.group(1)
            if not skipping and _rule(line):
                picked.append((2, section.group(1)))
            continue
        if not line:
            in_warning, in_backtrace, follow = False, False, 0
            continue
        # Rust's backtrace repeats the panic location amid dozens of std frames.
        in_backtrace = in_backtrace or line == "stack backtrace:"
        if skipping or in_backtrace or _NOISE.search(line) or _LIBRARY.search(line):
            continue
        if line.startswith("Traceback (most recent call last)"):
            i = _traceback(rows, i, picked)
            continue
        if re.match(r"^warning(\[\w+\])?:", line):
            in_warning = True
            continue
        in_warning = in_warning and not line.startswith("error")
        priority = _rule(line)
        if priority is None and _LOCATION.search(line):
            priority = 2
        if priority is None and follow:
            priority = 3
        follow = _CONTINUATION_LINES if re.search(r"panicked at .*:$", line) else max(0, follow - 1)
        if priority is None or (in_warning and priority > 1):
            continue
        is_e = line.startswith("E ")
        if is_e and not after_e:
            priority = 2  # the first `E` line is the assertion itself; the rest is its diff
        after_e = is_e
        picked.append((priority, line))
    return picked


def _rule(line: str) -> int | None:
    return next((priority for pattern, priority in _RULES if pattern.search(line)), None)


def _indent(row: str) -> int:
    return len(row) - len(row.lstrip())


def _traceback(rows: list[str], i: int, picked: _Picked) -> int:
    """Keep the last frame (and the last one in the repo's own code) plus the exception."""
    base = _indent(rows[i - 1])
    frames: list[tuple[str, str]] = []
    while i < len(rows):
        line = _short(rows[i])
        if line and _indent(rows[i]) <= base and not _FRAME.match(line):
            break  # back at the traceback's own indentation: the exception line
        if _FRAME.match(line):
            frames.append((line, ""))
        elif frames and line and not frames[-1][1] and not re.fullmatch(r"[\s~^]+", line):
            frames[-1] = (frames[-1][0], line)  # the source line shown under the frame
        i += 1
    own = [frame for frame in frames if not _LIBRARY.search(frame[0])]
    for frame, code in dict.fromkeys(own[-1:] + frames[-1:]):
        picked.append((2, frame))
        if code:
            picked.append((3, code))
    if i < len(rows):
        picked.append((2, _short(rows[i])))
        i += 1
        for _ in range(_CONTINUATION_LINES):
            line = _short(rows[i]) if i < len(rows) else ""
            if not line or re.match(r"^(-{10,}|={10,}|Traceback|During handling)", line):
                break
            picked.append((3, line))
            i += 1
    return i


def _success_summary(lines: list[str]) -> str:
    text = "\n".join(lines)
    pytest = re.findall(
        r"^=*\s*(\d+ (?:passed|skipped|xfailed|xpassed|deselected)\b.*? in [\d.]+s\b.*?)\s*=*$", text, re.M
    )
    if pytest:
        return pytest[-1]
    unittest = re.search(r"^(Ran \d+ tests? in [\d.]+s)\n+(OK.*)$", text, re.M)
    if unittest:
        return f"{unittest.group(1)}, {unittest.group(2)}"
    jest = re.findall(r"^Tests:\s+(.*\d+ total)$", text, re.M)
    if jest:
        return f"Tests: {jest[-1]}"
    cargo = [int(n) for n in re.findall(r"^test result: ok\. (\d+) passed", text, re.M)]
    if cargo:
        return f"{sum(cargo)} passed"
    go = re.findall(r"^ok\s+\S+", text, re.M)
    if go:
        return f"{len(go)} package{'s' if len(go) > 1 else ''} ok"
    other = re.findall(r"^(\d+ passing\b.*|Tests run: \d+, Failures: 0.*)$", text, re.M)
    return other[-1] if other else ""


def _cap(picked: _Picked, max_lines: int, max_chars: int) -> str:
    """Drop the least important lines first, keeping log order among those that stay."""
    if _fits([line for _, line in picked], max_lines, max_chars):
        return "\n".join(line for _, line in picked)
    marker_room = len("\n… (99999 more lines)")
    kept: set[int] = set()
    used = 0
    for index in sorted(range(len(picked)), key=lambda n: (picked[n][0], n)):
        cost = len(picked[index][1]) + 1
        if len(kept) + 1 < max_lines and used + cost + marker_room <= max_chars:
            kept.add(index)
            used += cost
    lines = [line for n, (_, line) in enumerate(picked) if n in kept]
    lines.append(f"… ({len(picked) - len(kept)} more lines)")
    return _fit(lines, max_lines, max_chars)


def _fits(lines: list[str], max_lines: int, max_chars: int) -> bool:
    return len(lines) <= max_lines and len("\n".join(lines)) <= max_chars


def _fit(lines: list[str], max_lines: int, max_chars: int) -> str:
    # Last resort for absurdly small limits: never exceed what the caller asked for.
    return "\n".join(lines[-max(1, max_lines) :] if len(lines) > max_lines else lines)[:max_chars]
