"""Small real repos for scenario tests: a calc module, its test and scripted agent steps."""

from __future__ import annotations

import json

CALC_TEST = """import unittest
from calc import add

class AddTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

if __name__ == "__main__":
    unittest.main()
"""


def scenario(*steps: str) -> str:
    return "\n".join(steps)


WRONG_FIX = """[[step]]
message = "Tried multiplying."
[[step.edit]]
path = "calc.py"
replace = "return a - b"
with = "return a * b"
"""
RIGHT_FIX = """[[step]]
message = "Fixed add()."
[[step.edit]]
path = "calc.py"
replace = "return a * b"
with = "return a + b"
"""
# A later step that breaks the fix again (a follow-up that makes the checks fail).
BREAKS_THE_FIX = """[[step]]
message = "Multiplied, as asked."
[[step.edit]]
path = "calc.py"
replace = "return a + b"
with = "return a * b"
"""
DIRECT_FIX = """[[step]]
message = "Fixed add() directly."
[[step.edit]]
path = "calc.py"
replace = "return a - b"
with = "return a + b"
"""


def slow_fix(seconds: int) -> str:
    """DIRECT_FIX after a pause: the agent is busy long enough to be interrupted or talked to."""
    return DIRECT_FIX.replace(
        'message = "Fixed add() directly."', f'message = "Fixed add() after a think."\ncommands = ["sleep {seconds}"]'
    )


FOLLOW_UP_STEP = """[[step]]
message = "Added a docstring as asked."
[[step.edit]]
path = "calc.py"
replace = "def add(a, b):"
with = "def add(a, b):\\n    \\"\\"\\"Adds two numbers.\\"\\"\\""
"""


def calc_files(steps: str, honk_toml_extra: str = "") -> dict[str, str]:
    return {
        ".honk.toml": '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\ntimeout = 60\n'
        '[agent]\nname = "scripted"\n' + honk_toml_extra,
        "calc.py": "def add(a, b):\n    return a - b\n",
        "test_calc.py": CALC_TEST,
        "README.md": "# calc\n",
        ".honk/scenario.toml": steps,
    }


# A check that reads a package index (a read: what a check may do) and goes on when it is refused.
INDEX_READ = (
    "python3 -c \"import urllib.request as u; print('index', "
    "u.urlopen('https://pypi.org/simple/honk-fixture-pkg/').status)\" || echo refused"
)


def index_reading_calc(steps: str) -> dict[str, str]:
    """calc_files whose check first reads pypi.org's index through the egress proxy: refused unless the
    repo may reach it in checks (never resolved then, so nothing leaves the machine)."""
    files = calc_files(steps)
    files[".honk.toml"] = files[".honk.toml"].replace(
        'run = "python3 -m unittest -q"', f"run = {json.dumps(INDEX_READ + ' ; python3 -m unittest -q')}"
    )
    return files


def sample_files() -> dict[str, str]:
    """The bundled sample app (a build with a preview page), as files for a test remote."""
    from honk.sample import sample_repo_dir

    root = sample_repo_dir()
    return {
        str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def plan_step(summary: str, tries: str = "") -> str:
    """A scripted planning run: its plan, and (`tries`) a command it runs while the workspace is read-only."""
    commands = f"commands = [{tries!r}]\n" if tries else ""
    return f"""[[step]]
message = "Planned."
{commands}[step.plan]
summary = "{summary}"
steps = ["Change the minus in add() to a plus", "Run the tests"]
files = ["calc.py"]
risks = ["None: add() has one caller"]
questions = []
"""
