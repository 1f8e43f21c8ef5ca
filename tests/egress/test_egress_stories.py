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


@pytest.fixture
def egress_stack(tmp_path: Path, temporal: TemporalDevServer, registries: FakeRegistries) -> Iterator[HonkStack]:
    spec = tmp_path / "egress.json"
    spec.write_text(json.dumps({"mapping": registries.mapping(), "ca_pem": registries.ca_pem.decode()}))
    ceiling = json.dumps(["pypi", "npm", "maven", "pypi.private.example"])  # the operator adds the private index
    stack = HonkStack(tmp_path / "honk", temporal.address, egress=spec, max_rounds="2", egress_ceiling=ceiling)
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


LEAK_TEST = """import base64, os, pathlib, unittest


class Leak(unittest.TestCase):
    def test_everything_this_sandbox_can_read(self):
        seen = repr(dict(os.environ))
        for path in ("/proc/self/environ", "/proc/1/environ"):
            try:
                seen += pathlib.Path(path).read_bytes().decode("latin-1")
            except OSError:
                pass
        for root in (os.environ["HOME"], "."):
            for f in pathlib.Path(root).rglob("*"):
                try:
                    seen += f.read_text(errors="ignore")
                except OSError:
                    pass
        blob = base64.b64encode(seen.encode()).decode()
        pathlib.Path("leak.txt").write_text(blob)
        print(blob)
        self.fail("leaked: " + blob[-4000:])
"""


def test_a_private_registry_token_is_added_by_the_proxy_and_no_sandbox_ever_holds_it(
    egress_stack: HonkStack, make_remote, registries: FakeRegistries
) -> None:
    """An admin sets the registry token with the real CLI (from stdin); setup installs from the private
    index with the token the proxy adds; a check the agent wrote dumps everything its sandbox can read,
    base64-encoded, to its output and a file: neither the token nor its encoding is anywhere."""
    from honk.testing.registries import PRIVATE_PYPI, PRIVATE_PYPI_PACKAGE

    registries.clear()
    token = registries.token
    step = scenario(
        "[[step]]",
        'message = "Added a test."',
        "[[step.edit]]",
        'path = "test_leak.py"',
        f"content = {json.dumps(LEAK_TEST)}",
    )
    install = INSTALL.replace("https://pypi.org/simple", f"https://{PRIVATE_PYPI}/simple").replace(
        PYPI_PACKAGE, PRIVATE_PYPI_PACKAGE
    )
    # Setup also holds a secret as a variable (it may: its code is the target branch's) and writes it
    # down in its HOME, as tools do with credentials: that HOME is setup's own, gone before the agent.
    setup = (
        f"[ -n \"$SETUP_TOKEN\" ] && {install} && env > $HOME/setup-env.txt && tr '\\\\0' '\\\\n' < /proc/self/environ >> $HOME/setup-env.txt"
        ' && echo "//npm.example/:_authToken=$SETUP_TOKEN" > $HOME/.npmrc && test -s $HOME/.npmrc'
    )
    toml = (
        f"setup = {json.dumps(setup)}\n"
        f'[network]\nsetup = ["{PRIVATE_PYPI}"]\n'
        f'[[secrets]]\nname = "REG_TOKEN"\nphases = ["setup", "check"]\nhosts = ["{PRIVATE_PYPI}"]\n'
        'header = "Authorization"\ntemplate = "Bearer {secret}"\n'
        '[[secrets]]\nname = "SETUP_TOKEN"\nphases = ["setup"]\nenv = "SETUP_TOKEN"\n'
    )
    files = calc_files(step)
    remote = make_remote({**files, ".honk.toml": toml + files[".honk.toml"]})
    egress_stack.add_repo("private", remote.url)
    said = egress_stack.honk("secret", "set", "private", "REG_TOKEN", input=token)
    assert said.returncode == 0, said.stderr
    assert token not in said.stdout + said.stderr
    setup_token = "setup-only-value-4f2a9c"
    assert egress_stack.honk("secret", "set", "private", "SETUP_TOKEN", input=setup_token).returncode == 0
    task = egress_stack.ask("private", "add a test")
    view = egress_stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=240)
    assert view.state == TaskState.failed, "the check the agent wrote fails on purpose, dumping what it read"
    events = egress_stack.events(task.id)
    assert any(e.event.kind == "check_finished" for e in events), egress_stack.kinds(task.id)
    # The token reached the registry, added on the way out.
    got = registries.received(PRIVATE_PYPI, method="GET", path=f"/simple/{PRIVATE_PYPI_PACKAGE}/")
    assert got and all(r.header("Authorization") == f"Bearer {token}" for r in got)
    # Nowhere inside: not in the events (the check's output the agent is shown), not in any file of the
    # task's workspace or sandbox home, not in the logs — neither plain nor base64 (of any alignment).
    import base64

    encodings = {
        secret
        for value in (token, setup_token)
        for secret in (value, *(base64.b64encode(("xyz"[:k] + value).encode()).decode()[4:20] for k in range(3)))
    }
    text = " ".join(e.event.model_dump_json() for e in events)
    assert "leaked: " in text  # the check did run and dump what it could read
    data = egress_stack.root / "data"
    dumped = [p for p in data.rglob("*") if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm", ".key")]
    for needle in encodings:
        assert needle not in text, needle
        for path in dumped:
            try:
                held = path.read_bytes()
            except FileNotFoundError:  # a file removed since the listing (a log rotated, a temp file) held nothing
                continue
            assert needle.encode() not in held, (needle, path)
