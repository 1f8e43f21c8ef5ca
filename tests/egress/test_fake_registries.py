"""The fake registries the egress proxy is tested against are real: pip, npm and a JVM install from
and fetch them, here without any proxy (straight at their loopback ports, trusting the test CA)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.egress.ca import Authority, java_trust_options, write_java_trust_store
from honk.egress.proxy import EgressProxy
from honk.network import EgressPolicy, Rule
from honk.testing.egress_worker import MappedResolver
from honk.testing.registries import (
    FETCH_JAVA,
    MAVEN,
    MAVEN_POM,
    NPM,
    NPM_DEPENDENCY,
    NPM_PACKAGE,
    PRIVATE_NPM,
    PRIVATE_NPM_PACKAGE,
    PRIVATE_PYPI,
    PRIVATE_PYPI_PACKAGE,
    PYPI,
    PYPI_DEPENDENCY,
    PYPI_FILES,
    PYPI_PACKAGE,
    FakeRegistries,
    big_sha256,
    build_npm_package,
    build_wheel,
    parse_fetched,
)

TOKEN = "s3cret-registry-token"
NPM_BIN, NODE_BIN, JAVA_BIN = shutil.which("npm"), shutil.which("node"), shutil.which("java")
# What the clients run without: proxy settings (they go straight to loopback), and trust settings that
# would override the test CA they are given (requests lets REQUESTS_CA_BUNDLE beat pip's --cert).
AMBIENT = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "java_tool_options", "node_options"}
AMBIENT |= {"requests_ca_bundle", "curl_ca_bundle", "ssl_cert_file", "ssl_cert_dir"}


@pytest.fixture
def authority() -> Iterator[Authority]:
    ca = Authority("Honk test registries")
    yield ca
    ca.close()


@pytest.fixture
def registries(authority: Authority) -> Iterator[FakeRegistries]:
    fake = FakeRegistries(authority, token=TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def ca_file(tmp_path: Path, authority: Authority) -> Path:
    path = tmp_path / "test-ca.pem"
    path.write_bytes(authority.pem)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without proxy, trust or pip settings, and with `extra`."""
    env = {
        k: v for k, v in os.environ.items() if k.lower() not in AMBIENT and not k.startswith(("PIP_", "npm_config_"))
    }
    return {**env, **extra}


def get(url: str, authority: Authority, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    context = ssl.create_default_context(cadata=authority.pem.decode())
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def as_named(
    fake: FakeRegistries,
    name: str,
    path: str,
    *,
    sni: str | None = None,
    host: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """A request as the proxy makes it: to the address `mapping()` gives for `name`, with the SNI and
    Host a client naming it sends (or others, to see them refused)."""
    ip, port = fake.mapping()[f"{name}:443"]
    context = ssl.create_default_context(cadata=fake.ca_pem.decode())
    with socket.create_connection((ip, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=sni or name) as tls:
            conn = http.client.HTTPConnection(name, timeout=10)
            conn.sock = tls
            conn.request(method, path, body=body, headers={"Host": host or name, **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read()


# -- the packages are real ---------------------------------------------------------------------
def test_a_built_wheel_records_each_file_with_its_sha256():
    wheel = build_wheel("honk-thing", "2.0.1", requires=["honk-other>=1"])
    assert wheel.filename == "honk_thing-2.0.1-py3-none-any.whl"
    with zipfile.ZipFile(io.BytesIO(wheel.data)) as z:
        record = z.read("honk_thing-2.0.1.dist-info/RECORD").decode().splitlines()
        rows = [line.split(",") for line in record]
        assert {r[0] for r in rows} == set(z.namelist())
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = z.read(path)
            assert digest == "sha256=" + _b64(hashlib.sha256(data).digest()) and int(size) == len(data)
        assert b"Requires-Dist: honk-other>=1" in z.read("honk_thing-2.0.1.dist-info/METADATA")
        assert z.read("honk_thing-2.0.1.dist-info/METADATA") == wheel.metadata


def test_a_built_npm_package_is_a_gzipped_tarball_under_package():
    package = build_npm_package("@honk/thing", "0.3.0", dependencies={"left-pad": "^1.0.0"})
    with tarfile.open(fileobj=io.BytesIO(package.data), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["package/index.js", "package/package.json"]
        manifest = json.loads(tar.extractfile("package/package.json").read())  # type: ignore[union-attr]
    assert manifest["name"] == "@honk/thing" and manifest["dependencies"] == {"left-pad": "^1.0.0"}
    assert package.filename == "thing-0.3.0.tgz"
    assert package.shasum == hashlib.sha1(package.data).hexdigest()
    assert build_npm_package("@honk/thing", "0.3.0", dependencies={"left-pad": "^1.0.0"}).data == package.data


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- pip, npm and a JVM, straight at the loopback ports ----------------------------------------
def test_pip_installs_the_wheel_and_its_dependency_and_they_import(
    registries: FakeRegistries, ca_file: Path, tmp_path: Path
):
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--no-input"]
    pip += ["--retries", "0", "--timeout", "20", "--cert", str(ca_file), "--target", str(target)]
    pip += ["--index-url", registries.url(PYPI) + "/simple", PYPI_PACKAGE]
    done = subprocess.run(
        pip, capture_output=True, text=True, timeout=120, env=clean_env(PIP_CONFIG_FILE=os.devnull), cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "import honk_fixture_pkg, honk_fixture_dep; print(honk_fixture_pkg.hello())"],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(PYTHONPATH=str(target)),
    )
    assert imported.stdout.strip() == f"hello from {PYPI_PACKAGE} 1.0.0", imported.stderr
    # The index on pypi.org, the files on files.pythonhosted.org, as on PyPI.
    assert registries.received(PYPI, method="GET", path=f"/simple/{PYPI_PACKAGE}/")[0].status == 200
    assert registries.received(PYPI, method="GET", path=f"/simple/{PYPI_DEPENDENCY}/")[0].status == 200
    files = [r for r in registries.received(PYPI_FILES, path="/packages/") if r.path.endswith(".whl")]
    assert len(files) == 2 and all(r.status == 200 for r in files)


def npmrc(tmp_path: Path, ca_file: Path, registry: str, *lines: str) -> Path:
    path = tmp_path / "npmrc"
    settings = [
        f"registry={registry}/",
        f"cafile={ca_file}",
        f"cache={tmp_path / 'npm-cache'}",
        "audit=false",
        "fund=false",
        "update-notifier=false",
        "fetch-retries=0",
        "fetch-timeout=20000",
        *lines,
    ]
    path.write_text("\n".join(settings) + "\n")
    return path


def npm_install(tmp_path: Path, config: Path, *packages: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "package.json").write_text('{"name": "t", "version": "1.0.0", "private": true}\n')
    env = clean_env(npm_config_userconfig=str(config), HOME=str(tmp_path))
    command = [str(NPM_BIN), "install", "--no-progress", *packages]
    done = subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL
    )
    return done, project


def node(project: Path, script: str) -> str:
    done = subprocess.run(
        [str(NODE_BIN), "-e", script], cwd=project, capture_output=True, text=True, timeout=30, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(NPM_BIN is None or NODE_BIN is None, reason="no npm and node on this machine")
def test_npm_installs_the_package_and_its_dependency_and_they_load(
    registries: FakeRegistries, ca_file: Path, tmp_path: Path
):
    done, project = npm_install(tmp_path, npmrc(tmp_path, ca_file, registries.url(NPM)), NPM_PACKAGE)
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = node(
        project, f"const p = require('{NPM_PACKAGE}'); console.log(p.hello(), require('{NPM_DEPENDENCY}').name)"
    )
    assert loaded == f"hello from {NPM_PACKAGE} 1.0.0 {NPM_DEPENDENCY}"
    tarballs = registries.received(NPM, method="GET", path=f"/{NPM_PACKAGE}/")
    assert [r.status for r in tarballs] == [200]  # npm checked the integrity the document gave


@pytest.mark.skipif(NPM_BIN is None or NODE_BIN is None, reason="no npm and node on this machine")
def test_the_private_npm_registry_serves_only_with_the_bearer_token(
    registries: FakeRegistries, ca_file: Path, tmp_path: Path
):
    private = registries.url(PRIVATE_NPM)
    without = npmrc(tmp_path, ca_file, registries.url(NPM), f"@honk:registry={private}/")
    refused, _ = npm_install(tmp_path, without, PRIVATE_NPM_PACKAGE)
    assert refused.returncode != 0 and "E401" in refused.stdout + refused.stderr
    assert [r.status for r in registries.received(PRIVATE_NPM)] == [401]
    assert registries.received(PRIVATE_NPM)[0].header("Authorization") is None

    registries.clear()
    nerf = private.removeprefix("https:")
    with_token = npmrc(
        tmp_path, ca_file, registries.url(NPM), f"@honk:registry={private}/", f"{nerf}/:_authToken={TOKEN}"
    )
    done, project = npm_install(tmp_path, with_token, PRIVATE_NPM_PACKAGE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert node(project, f"console.log(require('{PRIVATE_NPM_PACKAGE}').name)") == PRIVATE_NPM_PACKAGE
    arrived = registries.received(PRIVATE_NPM)
    assert {r.path.partition("?")[0] for r in arrived} == {
        "/@honk%2fprivate-pkg",
        "/@honk/private-pkg/-/private-pkg-1.0.0.tgz",
    }
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" and r.status == 200 for r in arrived)


def test_the_private_pypi_index_and_its_files_need_the_bearer_token(registries: FakeRegistries, authority: Authority):
    page = registries.url(PRIVATE_PYPI) + f"/simple/{PRIVATE_PYPI_PACKAGE}/"
    assert get(page, authority)[0] == 401
    assert get(page, authority, {"Authorization": "Bearer not-it"})[0] == 401
    status, body = get(page, authority, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    link = body.decode().split('href="')[1].split('"')[0]
    url, _, digest = link.partition("#sha256=")
    assert url.startswith(registries.url(PRIVATE_PYPI) + "/packages/")  # its files are on the private host
    assert get(url, authority)[0] == 401
    status, wheel = get(url, authority, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and hashlib.sha256(wheel).hexdigest() == digest
    statuses = [(r.header("Authorization") is not None, r.status) for r in registries.received(PRIVATE_PYPI)]
    assert statuses == [(False, 401), (True, 401), (True, 200), (False, 401), (True, 200)]


def java_fetch(store: Path, url: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(JAVA_BIN), "-XX:TieredStopAtLevel=1", *java_trust_options(store), *options, str(FETCH_JAVA), url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=clean_env())


@pytest.mark.skipif(JAVA_BIN is None, reason="no java on this machine")
def test_a_jvm_client_fetches_the_maven_file_trusting_the_test_ca(registries: FakeRegistries, tmp_path: Path):
    store = write_java_trust_store(registries.ca_pem, tmp_path / "trust.p12")
    done = java_fetch(store, registries.url(MAVEN) + MAVEN_POM)
    assert done.returncode == 0, done.stdout + done.stderr
    pom = get(registries.url(MAVEN) + MAVEN_POM, registries.authority)[1]
    fetched = parse_fetched(done.stdout)
    assert (fetched.status, fetched.length, fetched.sha256) == (200, len(pom), hashlib.sha256(pom).hexdigest())
    assert (registries.received(MAVEN, path=MAVEN_POM)[0].header("User-Agent") or "").startswith("Java-http-client")


@pytest.mark.skipif(JAVA_BIN is None, reason="no java on this machine")
def test_the_jvm_client_goes_through_the_standard_proxy_settings_to_the_real_name(
    registries: FakeRegistries, tmp_path: Path
):
    """Through Honk's egress proxy (a setup host, tunnelled), with only the JVM's standard properties."""
    asked: list[tuple[str, int]] = []

    class Recording(MappedResolver):
        def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
            asked.append((host, port))
            return super().resolve(host, port)

    mapping = registries.mapping()
    store = write_java_trust_store(registries.ca_pem, tmp_path / "trust.p12")
    proxy = EgressProxy(resolver=Recording(mapping), reachable=list(mapping.values())).start()
    gateway = proxy.open(EgressPolicy("setup", (Rule(MAVEN, None, None, "network.setup[0]"),)), tcp=True)
    try:
        assert gateway.address is not None
        port = gateway.address[1]
        done = java_fetch(
            store, f"https://{MAVEN}{MAVEN_POM}", "-Dhttps.proxyHost=127.0.0.1", f"-Dhttps.proxyPort={port}"
        )
        blocked = gateway.blocked()
    finally:
        gateway.close()
        proxy.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert parse_fetched(done.stdout).status == 200
    assert asked == [(MAVEN, 443)] and blocked == []  # the JVM asked the proxy, by name, and resolved nothing
    [arrived] = registries.received(MAVEN)
    assert (arrived.sni, arrived.host_header, arrived.path) == (MAVEN, MAVEN, MAVEN_POM)


# -- names, SNI, plain HTTP, concurrency -------------------------------------------------------
def test_each_name_is_served_by_sni_and_host_on_any_port_and_refused_when_they_disagree(registries: FakeRegistries):
    mapping = registries.mapping()
    assert set(mapping) == {f"{n}:{p}" for n in registries.names for p in (443, 80)}
    assert all(ip == "127.0.0.1" for ip, _ in mapping.values())

    # As a proxy would reach it: the name's port, its SNI and Host; the certificate is that name's.
    status, body = as_named(registries, PYPI, f"/simple/{PYPI_PACKAGE}/")
    assert status == 200 and f"https://{PYPI_FILES}/packages/" in body.decode()  # links name the real host
    # Another served name on the same port: its certificate by SNI, its content by Host.
    status, _ = as_named(registries, PYPI, MAVEN_POM, sni=MAVEN, host=MAVEN)
    assert status == 200
    assert as_named(registries, PYPI, "/echo", sni=PYPI, host=MAVEN)[0] == 421
    assert as_named(registries, PYPI, "/echo", sni=PYPI, host="evil.example")[0] == 421
    served = [(r.listener, r.sni, r.host, r.status) for r in registries.requests]
    assert served == [
        (PYPI, PYPI, PYPI, 200),
        (PYPI, MAVEN, MAVEN, 200),
        (PYPI, PYPI, MAVEN, 421),
        (PYPI, PYPI, "evil.example", 421),
    ]
    # A name not served gets the port's own certificate, which a client refuses: no request arrives.
    registries.clear()
    with pytest.raises(ssl.SSLCertVerificationError):
        as_named(registries, PYPI, "/echo", sni="evil.example", host="evil.example")
    assert registries.requests == []
    assert [(h.listener, h.sni) for h in registries.handshakes] == [(PYPI, "evil.example")]


def test_echo_answers_the_method_headers_and_body_it_received(registries: FakeRegistries):
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        body = b'{"a": 1}' if method in ("POST", "PUT", "PATCH") else None
        status, answer = as_named(
            registries, PRIVATE_NPM, "/echo?x=1", method=method, body=body, headers={"Authorization": "Bearer x"}
        )
        echoed = json.loads(answer)
        assert status == 200 and echoed["method"] == method and echoed["path"] == "/echo?x=1"
        assert echoed["host"] == echoed["sni"] == PRIVATE_NPM  # /echo needs no token, even here
        assert echoed["headers"]["authorization"] == "Bearer x"
        assert (echoed["body"], echoed["body_length"]) == ((body or b"").decode(), len(body or b""))
    assert [r.method for r in registries.received(PRIVATE_NPM, path="/echo")] == [
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
    ]
    # A registry's files are for reading.
    assert as_named(registries, MAVEN, MAVEN_POM, method="PUT", body=b"x")[0] == 405


def test_big_streams_fifty_megabytes_and_head_gives_only_the_length(registries: FakeRegistries):
    n = 50 * 1024 * 1024
    ip, port = registries.mapping()[f"{PYPI_FILES}:443"]
    context = ssl.create_default_context(cadata=registries.ca_pem.decode())
    with socket.create_connection((ip, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=PYPI_FILES) as tls:
            conn = http.client.HTTPConnection(PYPI_FILES, timeout=10)
            conn.sock = tls
            conn.request("GET", f"/big/{n}")
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Content-Length") == str(n)
            digest, length = hashlib.sha256(), 0
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                length += len(chunk)
            assert length == n and digest.hexdigest() == big_sha256(n)
            conn.request("HEAD", "/big/1000")  # the same connection: kept alive
            head = conn.getresponse()
            assert (head.status, head.getheader("Content-Length"), head.read()) == (200, "1000", b"")


def test_plain_http_serves_the_same_names_with_http_links(registries: FakeRegistries):
    with urllib.request.urlopen(registries.url(PYPI, "http") + f"/simple/{PYPI_PACKAGE}/", timeout=10) as page:
        link = page.read().decode().split('href="')[1].split("#")[0]
    assert link.startswith(registries.url(PYPI_FILES, "http") + "/packages/")
    with urllib.request.urlopen(link, timeout=10) as wheel:
        assert wheel.read()[:2] == b"PK"
    assert [(r.scheme, r.host, r.sni) for r in registries.requests] == [
        ("http", PYPI, None),
        ("http", PYPI_FILES, None),
    ]


def test_concurrent_keep_alive_connections_are_each_served_in_turn(registries: FakeRegistries):
    ip, port = registries.mapping()[f"{NPM}:443"]
    context = ssl.create_default_context(cadata=registries.ca_pem.decode())
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        with socket.create_connection((ip, port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=NPM) as tls:
                conn = http.client.HTTPConnection(NPM, timeout=10)
                conn.sock = tls
                for _ in range(10):
                    conn.request("GET", f"/{NPM_PACKAGE}")
                    response = conn.getresponse()
                    json.loads(response.read())
                    with lock:
                        statuses.append(response.status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert statuses == [200] * 80
    assert len(registries.handshakes) == 8  # ten requests on each connection


def test_a_test_can_serve_more_names_and_start_empty(authority: Authority):
    with FakeRegistries(authority, hosts=["Downloads.Example.com"], published=False) as fake:
        assert "downloads.example.com:443" in fake.mapping()
        fake.add_file("downloads.example.com", "/tool.tar.gz", b"tool", "application/gzip")
        assert as_named(fake, "downloads.example.com", "/tool.tar.gz") == (200, b"tool")
        assert as_named(fake, PYPI, f"/simple/{PYPI_PACKAGE}/")[0] == 404  # nothing published
        with pytest.raises(ValueError, match="not served"):
            fake.publish_npm(build_npm_package("x"), host="registry.yarnpkg.com")
