"""Stories of the egress policy through the whole stack: real workers whose egress proxy reaches the
fake registries by their real names (honk.testing.egress_worker), real bubblewrap, real pip."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.domain import TaskState
from honk.testing.processes import HonkStack, TemporalDevServer
from honk.testing.registries import PYPI, PYPI_PACKAGE, FakeRegistries
from repos import calc_files, scenario

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

INSTALL = (
    "/usr/bin/python3 -m pip install --quiet --no-cache-dir --retries 0 --disable-pip-version-check "
    f"--target $HOME/deps --index-url https://pypi.org/simple {PYPI_PACKAGE}"
)
IMPORTS = 'PYTHONPATH=$HOME/deps python3 -c "import honk_fixture_pkg as p; print(p.hello())"'


@pytest.fixture(scope="module")
def registries() -> Iterator[FakeRegistries]:
    with FakeRegistries() as fake:
        yield fake


@pytest.fixture
def egress_stack(tmp_path: Path, temporal: TemporalDevServer, registries: FakeRegistries) -> Iterator[HonkStack]:
    spec = tmp_path / "egress.json"
    spec.write_text(json.dumps({"mapping": registries.mapping(), "ca_pem": registries.ca_pem.decode()}))
    stack = HonkStack(tmp_path / "honk", temporal.address, egress=spec, max_rounds="2")
    yield stack
    stack.stop()


def _blocked(stack: HonkStack, task_id: str) -> list[dict]:
    return [e.event.model_dump() for e in stack.events(task_id) if e.event.kind == "network_blocked"]


def test_setup_installs_from_the_registry_it_names_and_the_agent_asking_the_same_is_refused_and_told(
    egress_stack: HonkStack, make_remote, registries: FakeRegistries
) -> None:
    registries.clear()
    step = scenario(
        "[[step]]",
        'message = "Tried to install a package myself, then fixed add()."',
        f"commands = [{json.dumps(INSTALL)}]",
        "[[step.edit]]",
        'path = "calc.py"',
        'replace = "return a - b"',
        'with = "return a + b"',
    )
    toml = f'setup = {json.dumps(INSTALL)}\n[network]\nsetup = ["pypi"]\n'
    files = calc_files(step)
    files[".honk.toml"] = files[".honk.toml"].replace(
        'run = "python3 -m unittest -q"', f"run = {json.dumps(IMPORTS + ' && python3 -m unittest -q')}"
    )
    remote = make_remote({**files, ".honk.toml": toml + files[".honk.toml"]})
    egress_stack.add_repo("calc", remote.url)
    task = egress_stack.ask("calc", "fix add")
    done = egress_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180)
    assert done.state == TaskState.ready, egress_stack.kinds(task.id)
    # Setup reached the index and the file host through the proxy, by their real names.
    assert registries.received(PYPI, method="GET", path=f"/simple/{PYPI_PACKAGE}/")
    # The agent's own install never left its sandbox: refused, said once, with the command that asked.
    [blocked] = _blocked(egress_stack, task.id)
    assert (blocked["phase"], blocked["host"], blocked["method"], blocked["reason"]) == (
        "agent",
        PYPI,
        "CONNECT",
        "not_allowed",
    )
    assert "pip install" in blocked["command"]
    # Said once where the change is delivered (the thread's ready message and the pull request body).
    ready = [e.event for e in egress_stack.events(task.id) if e.event.kind == "task_ready"]
    said = " ".join(ready[0].model_dump_json() for _ in ready[:1])
    assert "the egress proxy refused: CONNECT pypi.org in agent" in said and "honk network allow" in said


def test_a_file_asking_for_more_than_the_server_allows_fails_at_once_with_its_line_and_a_fix(
    egress_stack: HonkStack, make_remote
) -> None:
    """Beyond the ceiling, an unknown preset, a secret never set, a secret for the agent: each task
    fails before any sandbox starts, saying the file, the line and what to do."""
    cases = {
        "beyond": ('[network]\ncheck = ["evil.example.com"]\n', "line 2: network.check[0] lists evil.example.com"),
        "preset": ('[network]\nsetup = ["pypy"]\n', "line 2: network.setup[0] is not a preset"),
        "unset": (
            '[[secrets]]\nname = "NPM_TOKEN"\nphases = ["check"]\nhosts = ["registry.npmjs.org"]\nheader = "Authorization"\n',
            'line 2: secrets[0].name names the secret "NPM_TOKEN", which is not set',
        ),
        "agent": (
            '[[secrets]]\nname = "NPM_TOKEN"\nphases = ["agent"]\nenv = "NPM_TOKEN"\n',
            "line 3: secrets[0].phases must not include the agent",
        ),
    }
    tasks = {}
    for name, (toml, _) in cases.items():
        files = calc_files(scenario())
        remote = make_remote({**files, ".honk.toml": toml + files[".honk.toml"]})
        egress_stack.add_repo(name, remote.url)
        tasks[name] = egress_stack.ask(name, "fix add")
    for name, (_, said) in cases.items():
        done = egress_stack.wait_for(tasks[name].id, TaskState.failed, TaskState.ready, timeout_s=120)
        failed = [e.event for e in egress_stack.events(done.id) if e.event.kind == "task_failed"]
        assert done.state == TaskState.failed and failed, name
        assert ".honk.toml " + said in failed[0].reason, (name, failed[0].reason)
        kinds = egress_stack.kinds(done.id)
        assert "agent_started" not in kinds and "workspace_ready" not in kinds, (name, kinds)
    assert (
        "honk secret set unset NPM_TOKEN"
        in [e.event for e in egress_stack.events(tasks["unset"].id) if e.event.kind == "task_failed"][0].reason
    )
