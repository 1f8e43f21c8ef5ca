"""Rules of the code's shape that import-linter cannot express (it sees modules, not calls)."""

from __future__ import annotations

import ast
from pathlib import Path

import honk

AGENTS = Path(honk.__file__).parent / "agents"
# Ways to start a process without importing `subprocess` (which import-linter already forbids).
SPAWNERS = {
    "create_subprocess_exec",
    "create_subprocess_shell",
    "open_process",
    "run_process",
    "fork",
    "forkpty",
    "system",
    "popen",
    "posix_spawn",
    "posix_spawnp",
    "execv",
    "execve",
    "execvp",
    "execvpe",
    "execl",
    "execle",
    "execlp",
    "execlpe",
    "spawnv",
    "spawnve",
    "spawnvp",
    "spawnvpe",
    "spawnl",
}


def test_no_module_under_agents_starts_a_process():
    found = []
    for path in sorted(AGENTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
            if name in SPAWNERS:
                found.append(f"{path.relative_to(AGENTS.parent)}:{node.lineno} {name}")
    assert not found, f"agents start processes only through the launcher the worker hands them: {found}"
