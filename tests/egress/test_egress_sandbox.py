"""Every sandbox's one way out is the egress proxy: real bubblewrap, real curl inside, the proxy's
unix socket bound in. What a phase may reach, what it may not, and that refusals name the command."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from upstream import Resolver, Upstream

from honk.egress.proxy import EgressProxy
from honk.network import EgressPolicy, Rule
from honk.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("curl") is None, reason="needs bubblewrap and curl"
)
NAMES = ["pypi.org", "files.pythonhosted.org"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream(NAMES)
    yield up
    up.close()


@pytest.fixture(scope="module")
def proxy(upstream: Upstream) -> Iterator[EgressProxy]:
    tls = (str(upstream.tls.server_address[0]), int(upstream.tls.server_address[1]))
    p = EgressProxy(resolver=Resolver({(n, 443): tls for n in NAMES}), upstream_trust=upstream.ca.pem, reachable=[tls])
    yield p.start()
    p.stop()


def _world(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "data"
    ws = data / "workspaces" / "t1"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    return data, ws, data / "agent-homes" / "t1"


READS = frozenset({"GET", "HEAD", "OPTIONS"})


async def test_a_check_reaches_only_its_hosts_through_the_proxy_and_a_refusal_names_its_command(
    tmp_path: Path, proxy: EgressProxy, upstream: Upstream
) -> None:
    data, ws, area = _world(tmp_path)
    box = Sandbox(SandboxConfig(hidden=(data,), egress=proxy))
    policy = EgressPolicy("check", (Rule("pypi.org", None, READS, "network.check[0]"),))
    launcher = box.launcher(area, ws, [], "check", egress=policy)
    try:
        ok = await launcher.shell("curl -sS --max-time 20 https://pypi.org/simple/", timeout_s=60)
        assert ok.ok and '"method": "GET"' in ok.output, ok.output
        refused = await launcher.shell("curl -sS --max-time 20 https://files.pythonhosted.org/x", timeout_s=60)
        assert not refused.ok and "403" in refused.output
        posted = await launcher.shell("curl -sS --max-time 20 -d x=1 https://pypi.org/simple/", timeout_s=60)
        assert "POST is not allowed to pypi.org in check" in posted.output
        # Around the proxy: the upstream's real address is on the host's loopback, not this namespace's.
        host, port = upstream.tls.server_address[:2]
        direct = await launcher.shell(f"curl -sS --max-time 5 --noproxy '*' -k https://{host}:{port}/", timeout_s=60)
        assert not direct.ok and "connect to server" in direct.output.lower()
    finally:
        launcher.close()
    found = Sandbox.blocked(area)
    by_host = {(b.host, b.method): b for b in found}
    assert set(by_host) == {("files.pythonhosted.org", "CONNECT"), ("pypi.org", "POST")}
    blocked = by_host[("files.pythonhosted.org", "CONNECT")]
    assert blocked.phase == "check" and blocked.reason == "not_allowed"
    assert blocked.command == "'curl -sS --max-time 20 https://files.pythonhosted.org/x'"
    assert Sandbox.blocked(area) == []  # taken once


@pytest.mark.skipif(shutil.which("java") is None or shutil.which("keytool") is None, reason="needs a JDK")
async def test_a_jvm_in_a_check_fetches_through_the_proxy_with_the_settings_it_reads(tmp_path: Path) -> None:
    """JVMs read no proxy variables: JAVA_TOOL_OPTIONS gives them the proxy and a trust store with the
    worker's authority, so a terminated (reads-only) host works and a write is refused."""
    from honk.testing.egress_worker import MappedResolver
    from honk.testing.registries import FETCH_JAVA, MAVEN, MAVEN_POM, FakeRegistries, parse_fetched

    with FakeRegistries() as fake:
        mapping = fake.mapping()
        proxy = EgressProxy(
            resolver=MappedResolver(mapping), upstream_trust=fake.ca_pem, reachable=list(mapping.values())
        ).start()
        try:
            assert proxy.java_store is not None  # waited for: the first sandbox of a worker gets it too
            data, ws, area = _world(tmp_path)
            shutil.copy(FETCH_JAVA, ws / "Fetch.java")
            box = Sandbox(SandboxConfig(hidden=(data,), egress=proxy))
            policy = EgressPolicy("check", (Rule(MAVEN, None, READS, "network.check[0]"),))
            launcher = box.launcher(area, ws, [], "check", egress=policy)
            try:
                got = await launcher.shell(f"java Fetch.java https://{MAVEN}{MAVEN_POM}", timeout_s=180)
                assert got.ok, got.output
                fetched = parse_fetched(got.output.strip().splitlines()[-1])
                assert fetched.status == 200 and fetched.length > 0
                put = await launcher.shell(f"java Fetch.java https://{MAVEN}{MAVEN_POM} PUT", timeout_s=180)
                assert parse_fetched(put.output.strip().splitlines()[-1]).status == 403
            finally:
                launcher.close()
            [blocked] = Sandbox.blocked(area)
            assert (blocked.host, blocked.method, blocked.reason) == (MAVEN, "PUT", "method")
            assert fake.received(MAVEN, method="GET", path=MAVEN_POM)
            assert not fake.received(MAVEN, method="PUT")
        finally:
            proxy.stop()


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
@pytest.mark.parametrize("phase", ["setup", "check"])
async def test_npm_installs_through_the_proxy_tunnelled_in_setup_and_terminated_in_a_check(
    tmp_path: Path, phase: str
) -> None:
    """npm (Node 18 reads no proxy variables itself; npm's own settings carry the proxy and the CA):
    tunnelled where any method is allowed, terminated where only reads are."""
    from honk.testing.egress_worker import MappedResolver
    from honk.testing.registries import NPM, NPM_PACKAGE, FakeRegistries

    with FakeRegistries() as fake:
        mapping = fake.mapping()
        proxy = EgressProxy(
            resolver=MappedResolver(mapping), upstream_trust=fake.ca_pem, reachable=list(mapping.values())
        ).start()
        try:
            data, ws, area = _world(tmp_path)
            box = Sandbox(SandboxConfig(hidden=(data,), egress=proxy))
            methods = None if phase == "setup" else READS
            policy = EgressPolicy(phase, (Rule(NPM, None, methods, f"network.{phase}[0]"),))  # type: ignore[arg-type]
            launcher = box.launcher(area, ws, [], phase, egress=policy)  # type: ignore[arg-type]
            try:
                got = await launcher.shell(
                    f"npm install --no-save --prefix $HOME/n {NPM_PACKAGE} && ls $HOME/n/node_modules", timeout_s=180
                )
            finally:
                launcher.close()
            assert got.ok and NPM_PACKAGE in got.output, got.output
            assert Sandbox.blocked(area) == []  # npm's audit and funding calls are off: nothing to refuse
            assert fake.received(NPM, method="GET")
            assert fake.handshakes  # the fake saw TLS: from npm (tunnelled) or from the proxy (terminated)
        finally:
            proxy.stop()
