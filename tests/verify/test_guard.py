"""The test guard reads real git diffs for weakened or deleted tests and downgraded dependencies."""

from __future__ import annotations

from pathlib import Path

from honk.testing.gitrepo import run_git, write_files
from honk.verify.guard import inspect

BEFORE = {
    "tests/test_calc.py": (
        "import pytest\nfrom calc import add, ratio\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n    assert add(0, 0) == 0\n\n"
        "def test_ratio():\n    assert ratio(1, 3) == pytest.approx(0.333, abs=0.001)\n\n"
        "def test_negative():\n    assert add(-1, 1) == 0\n"
    ),
    "tests/test_old.py": "def test_old():\n    assert True\n",
    "requirements.txt": "requests==2.31.0\nflask>=3.0.0\n",
    "calc.py": "def add(a, b):\n    return a + b\n",
}


def _diff(tmp_path: Path, after: dict[str, str | None]) -> str:
    run_git("init", "-q", "-b", "main", cwd=tmp_path)
    write_files(tmp_path, BEFORE)
    run_git("add", "-A", cwd=tmp_path)
    run_git("commit", "-qm", "before", cwd=tmp_path)
    for rel, content in after.items():
        if content is None:
            (tmp_path / rel).unlink()
        else:
            (tmp_path / rel).write_text(content)
    run_git("add", "-A", cwd=tmp_path)
    return run_git("diff", "--cached", cwd=tmp_path)


def test_gaming_the_checks_is_flagged(tmp_path: Path):
    weakened = (
        "import pytest\nfrom calc import add, ratio\n\n"
        "@pytest.mark.skip(reason='flaky')\ndef test_add():\n    assert add(2, 3) == 5\n\n"
        "def test_ratio():\n    assert ratio(1, 3) == pytest.approx(0.333, abs=0.1)\n"
    )
    diff = _diff(
        tmp_path,
        {
            "tests/test_calc.py": weakened,
            "tests/test_old.py": None,
            "requirements.txt": "requests==2.20.0\nflask>=3.0.0\n",
            "calc.py": "def add(a, b):  # noqa: E501\n    return a + b\n",
        },
    )
    kinds = {(f.kind, f.file) for f in inspect(diff)}
    assert ("deleted_test_file", "tests/test_old.py") in kinds
    assert ("removed_test", "tests/test_calc.py") in kinds  # test_negative
    assert ("added_skip", "tests/test_calc.py") in kinds
    assert ("removed_assertion", "tests/test_calc.py") in kinds
    assert ("loosened_threshold", "tests/test_calc.py") in kinds
    assert ("dependency_downgrade", "requirements.txt") in kinds
    assert ("disabled_check", "calc.py") in kinds


def test_an_honest_change_with_new_tests_is_clean(tmp_path: Path):
    diff = _diff(
        tmp_path,
        {
            "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
            "tests/test_calc.py": BEFORE["tests/test_calc.py"] + "\ndef test_sub():\n    assert 1 == 1\n",
            "requirements.txt": "requests==2.32.0\nflask>=3.0.0\n",
        },
    )
    assert inspect(diff) == []
