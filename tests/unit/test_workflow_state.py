"""The worker runs its workflows outside Temporal's sandbox (composition/worker.py: the sandbox cost a sixth of
its CPU per task), so nothing isolates one workflow run's module globals from another's there. The workflow
tests and the replays still run sandboxed, which catches a clock or a random call, but not state shared
through a module: this checks, in the source, that no workflow module keeps any."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from honk.hooks import delivery_workflow
from honk.workflow import (
    attempts_policy,
    attempts_workflow,
    campaign_policy,
    campaign_workflow,
    policy,
    pull_review,
    schedule_fire,
    task_workflow,
)

# The workflows' modules and the pure policies they call from workflow code.
MODULES = [
    task_workflow,
    campaign_workflow,
    attempts_workflow,
    pull_review,
    schedule_fire,
    delivery_workflow,
    policy,
    campaign_policy,
    attempts_policy,
]
MUTABLE_CALLS = {"list", "dict", "set", "defaultdict", "deque", "Counter", "OrderedDict", "bytearray"}


def _mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in MUTABLE_CALLS
    return False


def _shared(source: str) -> list[str]:
    """Names a module's source binds to a mutable container at module level, or declares `global`."""
    tree = ast.parse(source)
    found = []
    for node in tree.body:  # module level only: a class's or a function's own state is per run
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if value is not None and _mutable(value):
            found += [ast.unparse(t) for t in targets]
    found += [name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names]
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_a_workflow_module_keeps_no_mutable_state_of_its_own(module: ModuleType) -> None:
    found = _shared(inspect.getsource(module))
    assert not found, f"{module.__name__} keeps module state shared by every workflow run: {found}"


def test_the_check_finds_shared_state() -> None:
    source = "SEEN = {}\nA: list[str] = []\nB = frozenset()\nC = defaultdict(list)\ndef f():\n    global D\n"
    assert _shared(source) == ["SEEN", "A", "C", "D"]
