"""The distiller on genuine tool output: real pytest/unittest runs, literal go/cargo/tsc/jest logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from honk.verify.distill import TIMED_OUT, distill

FAILING_PYTEST = """
def add(a, b):
    return a + b

def test_ok():
    assert add(1, 1) == 2

def test_add():
    assert add(1, 2) == 4

def test_boom():
    {}["missing"]

def test_warns():
    import warnings
    warnings.warn("old api", DeprecationWarning)
"""

FAILING_UNITTEST = """
import json
import unittest

def parse(text):
    return json.loads(text)

class TestCalc(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1 + 1, 2)

    def test_add(self):
        self.assertEqual(1 + 2, 4)

    def test_parse(self):
        parse("{bad")
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # The outer pytest's own variables must not steer the inner run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def pytest_run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_calc.py").write_text(source)
    return run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_calc.py"], tmp_path)


def test_real_pytest_failure_names_tests_locations_and_assertions(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, FAILING_PYTEST)
    assert proc.returncode == 1
    log = proc.stdout + proc.stderr
    out = distill(log, proc.returncode)
    lines = out.splitlines()
    assert "FAILED test_calc.py::test_add - assert 3 == 4" in lines
    assert "FAILED test_calc.py::test_boom - KeyError: 'missing'" in lines
    assert "test_calc.py:9: AssertionError" in lines
    assert "E       assert 3 == 4" in lines
    assert any(line.startswith("2 failed, 2 passed") for line in lines)
    # Passing tests, pytest's header and the warnings summary are noise to the agent.
    assert "test_ok" not in out
    assert "DeprecationWarning" not in out
    assert "platform" not in out
    assert len(out) < len(log)


def test_real_pytest_success_is_one_line_with_the_count(tmp_path: Path) -> None:
    proc = pytest_run(tmp_path, "def test_a():\n    assert True\n\ndef test_b():\n    pass\n")
    assert proc.returncode == 0
    out = distill(proc.stdout + proc.stderr, 0)
    assert "\n" not in out
    assert out.startswith("passed: 2 passed in ")


def test_real_unittest_failure_keeps_last_frames_and_exceptions(tmp_path: Path) -> None:
    (tmp_path / "test_calc.py").write_text(FAILING_UNITTEST)
    proc = run([sys.executable, "-m", "unittest", "discover"], tmp_path)
    assert proc.returncode == 1
    out = distill(proc.stdout + proc.stderr, proc.returncode)
    lines = out.splitlines()
    assert "FAIL: test_add (test_calc.TestCalc.test_add)" in lines
    assert "ERROR: test_parse (test_calc.TestCalc.test_parse)" in lines
    assert "AssertionError: 3 != 4" in lines
    assert any(line.startswith("json.decoder.JSONDecodeError: Expecting property name") for line in lines)
    # The repo's own frame is kept, the stdlib frames in between are not (only the very last one).
    assert any(line.startswith('File "') and 'test_calc.py", line 6, in parse' in line for line in lines)
    assert not any("json/__init__.py" in line for line in lines)
    assert "self.assertEqual(1 + 2, 4)" in lines
    assert "FAILED (failures=1, errors=1)" in lines
    assert "Ran 3 tests" not in out


def test_real_unittest_success(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    )
    proc = run([sys.executable, "-m", "unittest", "discover"], tmp_path)
    assert proc.returncode == 0
    out = distill(proc.stdout + proc.stderr, 0)
    assert out.startswith("passed: Ran 1 test in ")
    assert out.endswith(", OK")


GO_TEST = """\
=== RUN   TestAdd
    calc_test.go:9: Add(1, 2) = 3, want 4
--- FAIL: TestAdd (0.00s)
=== RUN   TestSub
--- PASS: TestSub (0.00s)
=== RUN   TestDiv
=== RUN   TestDiv/by_zero
    calc_test.go:21: expected an error, got nil
--- FAIL: TestDiv (0.00s)
    --- FAIL: TestDiv/by_zero (0.00s)
FAIL
FAIL\texample.com/calc\t0.003s
ok  \texample.com/calc/util\t0.002s
FAIL
"""

GO_BUILD = """\
# example.com/calc
./calc.go:10:2: undefined: foo
./calc.go:14:9: cannot use "x" (untyped string constant) as int value in return statement
FAIL\texample.com/calc [build failed]
"""

GO_PANIC = """\
--- FAIL: TestIndex (0.00s)
panic: runtime error: index out of range [5] with length 3 [recovered]
\tpanic: runtime error: index out of range [5] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x5140e0, 0xc000018150})
\t/usr/local/go/src/testing/testing.go:1545 +0x238
example.com/calc.TestIndex(0x0?)
\t/home/me/calc/calc_test.go:30 +0x1d
testing.tRunner(0xc000007860, 0x537f48)
\t/usr/local/go/src/testing/testing.go:1595 +0xff
FAIL\texample.com/calc\t0.004s
"""


def test_go_test_failures() -> None:
    lines = distill(GO_TEST, 1).splitlines()
    assert lines[:2] == ["calc_test.go:9: Add(1, 2) = 3, want 4", "--- FAIL: TestAdd (0.00s)"]
    assert "--- FAIL: TestDiv/by_zero (0.00s)" in lines
    assert "calc_test.go:21: expected an error, got nil" in lines
    assert not any("PASS" in line or "RUN" in line or line.startswith("ok") for line in lines)


def test_go_build_errors_and_panics() -> None:
    build = distill(GO_BUILD, 1).splitlines()
    assert build[0] == "./calc.go:10:2: undefined: foo"
    assert build[1].startswith('./calc.go:14:9: cannot use "x"')
    assert build[2] == "FAIL\texample.com/calc [build failed]"
    panic = distill(GO_PANIC, 2)
    assert "panic: runtime error: index out of range [5] with length 3 [recovered]" in panic
    assert "/home/me/calc/calc_test.go:30 +0x1d" in panic
    assert "/usr/local/go/src/testing" not in panic


# Captured from `cargo test` (rustc 1.9x) with RUST_BACKTRACE set.
CARGO_TEST = """\
   Compiling rx v0.1.0 (/tmp/rx)
warning: unused variable: `unused`
 --> src/lib.rs:2:9
  |
2 |     let unused = 1;
  |         ^^^^^^ help: if this is intentional, prefix it with an underscore: `_unused`
  |
  = note: `#[warn(unused_variables)]` (part of `#[warn(unused)]`) on by default

warning: `rx` (lib) generated 1 warning (run `cargo fix --lib -p rx` to apply 1 suggestion)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.94s
     Running unittests src/lib.rs (target/debug/deps/rx-b58b367ae22089ff)

running 2 tests
test tests::it_works ... ok
test tests::it_adds ... FAILED

failures:

---- tests::it_adds stdout ----

thread 'tests::it_adds' (6077) panicked at src/lib.rs:10:20:
assertion `left == right` failed
  left: 4
 right: 5
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/panicking.rs:689:5
   4: rx::tests::it_adds
             at ./src/lib.rs:10:20
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.


failures:
    tests::it_adds

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.09s

error: test failed, to rerun pass `--lib`
"""

CARGO_BUILD = """\
   Compiling rx v0.1.0 (/tmp/rx)
error[E0308]: mismatched types
 --> src/lib.rs:3:5
  |
1 | pub fn add(a: i32, b: i32) -> i32 {
  |                               --- expected `i32` because of return type
2 |     let unused = 1;
3 |     "x"
  |     ^^^ expected `i32`, found `&str`

For more information about this error, try `rustc --explain E0308`.
error: could not compile `rx` (lib test) due to 1 previous error
"""


def test_cargo_test_failure() -> None:
    lines = distill(CARGO_TEST, 101).splitlines()
    assert lines[0] == "test tests::it_adds ... FAILED"
    assert "thread 'tests::it_adds' (6077) panicked at src/lib.rs:10:20:" in lines
    assert "assertion `left == right` failed" in lines
    assert "left: 4" in lines and "right: 5" in lines
    assert lines[-2].startswith("test result: FAILED. 1 passed; 1 failed")
    # The warning's location and the backtrace's std frames are not failures.
    assert "--> src/lib.rs:2:9" not in lines
    assert not any("/rustc/" in line for line in lines)


def test_cargo_compile_error() -> None:
    lines = distill(CARGO_BUILD, 101).splitlines()
    assert lines[:3] == [
        "error[E0308]: mismatched types",
        "--> src/lib.rs:3:5",
        "|     ^^^ expected `i32`, found `&str`",
    ]
    assert "Compiling" not in "\n".join(lines)


TSC = """\

> web@1.0.0 typecheck
> tsc --noEmit

src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.
src/util.ts(10,15): error TS2339: Property 'foo' does not exist on type 'Bar'.
npm ERR! Lifecycle script `typecheck` failed with error:
npm ERR! Error: command failed
"""


def test_tsc_errors_without_npm_noise() -> None:
    assert distill(TSC, 2).splitlines() == [
        "src/index.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
        "src/util.ts(10,15): error TS2339: Property 'foo' does not exist on type 'Bar'.",
    ]


JEST = """\
FAIL src/sum.test.js
  sum
    \u2713 adds positives (2 ms)
    \u2715 adds negatives (3 ms)

  \u25cf sum \u203a adds negatives

    expect(received).toBe(expected) // Object.is equality

    Expected: -3
    Received: -1

      4 | });
      5 | test('adds negatives', () => {
    > 6 |   expect(sum(-1, -2)).toBe(-3);
        |                       ^
      7 | });

      at Object.toBe (src/sum.test.js:6:23)
      at Promise.then.completed (node_modules/jest-circus/build/utils.js:298:28)

Test Suites: 1 failed, 1 total
Tests:       1 failed, 1 passed, 2 total
Snapshots:   0 total
Time:        0.512 s
Ran all test suites.
"""


def test_jest_failure() -> None:
    lines = distill(JEST, 1).splitlines()
    assert lines[0] == "FAIL src/sum.test.js"
    assert "\u25cf sum \u203a adds negatives" in lines
    assert "Expected: -3" in lines and "Received: -1" in lines
    assert "> 6 |   expect(sum(-1, -2)).toBe(-3);" in lines
    assert "at Object.toBe (src/sum.test.js:6:23)" in lines
    assert "Tests:       1 failed, 1 passed, 2 total" in lines
    assert not any("node_modules" in line or "adds positives" in line for line in lines)


def test_jest_and_cargo_and_go_success_summaries() -> None:
    assert distill("Tests:       3 passed, 3 total\nTime: 1 s\n", 0) == "passed: Tests: 3 passed, 3 total"
    cargo = "test result: ok. 2 passed; 0 failed\n\ntest result: ok. 3 passed; 0 failed\n"
    assert distill(cargo, 0) == "passed: 5 passed"
    assert distill("ok  \texample.com/a\t0.1s\nok  \texample.com/b\t0.2s\n", 0) == "passed: 2 packages ok"
    assert distill("built in 3s\n", 0) == "passed"


def test_timeout_is_said_first() -> None:
    log = "collecting ...\nFAILED test_x.py::test_slow - Failed: Timeout\n"
    lines = distill(log, None, timed_out=True).splitlines()
    assert lines[0] == TIMED_OUT
    assert "FAILED test_x.py::test_slow - Failed: Timeout" in lines
    assert distill("", None, timed_out=True) == TIMED_OUT
    # A timeout trumps a zero exit code: the check did not finish.
    assert distill("1 passed in 0.1s", 0, timed_out=True).startswith(TIMED_OUT)


def test_fallback_is_the_last_lines_only() -> None:
    log = "\n".join(f"step {n} done" for n in range(100)) + "\nsomething went wrong\n"
    lines = distill(log, 3).splitlines()
    assert len(lines) == 15
    assert lines[-1] == "something went wrong"
    assert lines[0] == "step 86 done"
    assert distill("", 127) == "failed with exit code 127 and printed nothing"


def test_dedup_keeps_first_occurrence_and_order() -> None:
    log = "a.py:1: Error: x\nb.py:2: Error: y\na.py:1: Error: x\n"
    assert distill(log, 1) == "a.py:1: Error: x\nb.py:2: Error: y"


def test_ansi_colours_are_stripped() -> None:
    log = "\x1b[31mFAILED\x1b[0m test_x.py::test_a - assert 0\n"
    assert distill(log, 1) == "FAILED test_x.py::test_a - assert 0"


@pytest.mark.parametrize(("max_lines", "max_chars"), [(40, 4000), (10, 4000), (40, 500), (3, 120), (1, 40)])
def test_caps_keep_failing_ids_over_details(max_lines: int, max_chars: int) -> None:
    details = "".join(f"E       - line {n} of a long diff\n" for n in range(500))
    log = details + "".join(f"FAILED test_x.py::test_{n} - assert 0\n" for n in range(5))
    out = distill(log, 1, max_lines=max_lines, max_chars=max_chars)
    lines = out.splitlines()
    assert len(lines) <= max_lines
    assert len(out) <= max_chars
    assert lines[-1].startswith("… (") and lines[-1].endswith(" more lines)")
    if max_lines >= 10 and max_chars >= 500:
        # The ids outrank the diff, and log order is kept among what stays.
        assert [line for line in lines if line.startswith("FAILED")] == [
            f"FAILED test_x.py::test_{n} - assert 0" for n in range(5)
        ]
        assert lines.index("E       - line 0 of a long diff") < lines.index("FAILED test_x.py::test_0 - assert 0")
        dropped = int(lines[-1].removeprefix("… (").split()[0])
        assert dropped == 505 - (len(lines) - 1)


def test_long_lines_are_cut() -> None:
    out = distill("Error: " + "x" * 5000, 1)
    assert len(out) <= 300
    assert out.endswith("…")
