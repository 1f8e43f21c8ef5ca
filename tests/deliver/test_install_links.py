"""A delivered app reached from a phone through its signed link, served by a real uvicorn on loopback: the
install page (name, version, build, icon, Install, QR, expiry), the file itself byte for byte with the type
the phone installs it by, an .ipa's manifest.plist; and every link that must not open (expired, changed,
another file's or task's, an earlier build's, another kind of Honk token) gets 403 and a page saying
what to do."""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeSerializer

from honk.deliver.apk import inspect_apk
from honk.deliver.ios import read_ipa
from honk.deliver.links import SALT, ArtifactLinks
from honk.deliver.shelf import DeliveryShelf, described_apk, described_ipa, file_digest
from honk.demo.loopback import LoopbackServer
from honk.domain import ApkRead, ArtifactGrant, ArtifactLinkRefused, DeliveredApp, IosApp
from honk.ports import free_port
from honk.preview_links import PreviewLinks
from honk.testing.android import AppSpec, Keystore, build_apk
from honk.web.install import install_router

KEY = b"s" * 32
TASK, OTHER = "t-aaaaaaaaaaaa", "t-bbbbbbbbbbbb"
APK_MIME = "application/vnd.android.package-archive"


@dataclass
class Site:
    url: str
    links: ArtifactLinks
    shelf: DeliveryShelf
    artifacts: Path

    def get(self, url: str, **kw) -> httpx.Response:
        """`url` (as the page or manifest gives it, whatever its public host) fetched from the loopback server."""
        parts = urlsplit(url)
        return httpx.get(f"{self.url}{parts.path}", timeout=30, **kw)


@contextmanager
def serve(tmp_path: Path, public_url: str | None = None) -> Iterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    links = ArtifactLinks(KEY, public_url or url)
    shelf = DeliveryShelf(tmp_path / "artifacts")
    app = FastAPI()
    app.include_router(install_router(links, shelf))
    with LoopbackServer(app, port=port):
        yield Site(url, links, shelf, tmp_path / "artifacts")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with serve(tmp_path) as served:
        yield served


def deliver_apk(site: Site, task_id: str, apk: Path, read: ApkRead) -> str:
    """As the deliver step will: the build's copy in the task's artifacts, what the page shows beside it."""
    dest = site.artifacts / task_id / apk.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(apk, dest)
    app = described_apk(task_id, dest, read)
    site.shelf.put(app, read.icon_png)
    return site.links.token(task_id, apk.name, app.sha256, ttl_s=24 * 3600)


@pytest.fixture
async def delivered(site: Site, workspace: Path, keystore: Keystore, icon_png: bytes, launcher) -> tuple[str, Path]:
    apk = build_apk(
        workspace, AppSpec(version_code=317, version_name="2.3.0", label="Calc", icon_png=icon_png), keystore
    )
    read = await inspect_apk(apk, launcher)
    assert isinstance(read, ApkRead), read
    return deliver_apk(site, TASK, apk, read), apk


def assert_refused_page(res: httpx.Response, status: int, words: str) -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("text/html")
    assert res.headers["referrer-policy"] == "no-referrer" and res.headers["cache-control"] == "no-store"
    assert words in res.text, res.text


# -- links -----------------------------------------------------------------------------------------


def test_a_token_opens_its_file_and_build_until_it_expires():
    links = ArtifactLinks(KEY, "https://honk.example.com")
    token = links.token(TASK, "app.apk", "cd" * 32, ttl_s=60)
    grant = links.check(token, "app.apk", "cd" * 32)
    assert isinstance(grant, ArtifactGrant) and (grant.task_id, grant.name) == (TASK, "app.apk")
    assert links.check(token, "other.apk") == ArtifactLinkRefused(why="This link is for another file.")
    assert "earlier build" in links.check(token, "app.apk", "ef" * 32).why  # type: ignore[union-attr]
    assert "expired on" in links.check(links.token(TASK, "app.apk", "cd" * 32, ttl_s=-1)).why  # type: ignore[union-attr]


def test_an_apk_token_does_not_open_a_manifest_but_an_ipa_token_does():
    links = ArtifactLinks(KEY, "https://honk.example.com")
    assert isinstance(links.check(links.token(TASK, "app.apk", "cd", 60), "manifest.plist"), ArtifactLinkRefused)
    assert isinstance(links.check(links.token(TASK, "Calc.ipa", "cd", 60), "manifest.plist"), ArtifactGrant)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x" * 5000,
        PreviewLinks(KEY).token(TASK, 0, 3600),  # a preview link, same key: another salt
        str(URLSafeSerializer(KEY, salt=SALT).dumps(["t-aaaaaaaaaaaa", "app.apk"])),  # signed, not ours
        str(URLSafeSerializer(KEY, salt=SALT).dumps({"t": TASK, "f": "app.apk"})),  # fields missing
        str(URLSafeSerializer(b"another server", salt=SALT).dumps({"t": TASK, "f": "app.apk", "d": "", "e": 2e9})),
    ],
    ids=["empty", "oversized", "preview-token", "not-a-dict", "fields-missing", "another-key"],
)
def test_tokens_that_are_not_valid_artifact_links_are_refused(token: str):
    refused = ArtifactLinks(KEY, "https://honk.example.com").check(token)
    assert refused == ArtifactLinkRefused(why="This link is not valid: it was changed or cut short.")


# -- Android, through a real server ----------------------------------------------------------------


async def test_an_apk_downloads_through_its_signed_link_byte_for_byte(site: Site, delivered, icon_png: bytes):
    token, apk = delivered

    page = httpx.get(site.links.install_url(token), timeout=30)

    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    assert "<title>Calc</title>" in page.text and "Version 2.3.0 (build 317)" in page.text
    assert "dev.honk.sample" in page.text and "Signature verified by apksigner" in page.text
    assert 'src="data:image/png;base64,' in page.text and "<svg" in page.text  # the icon, the QR code
    assert re.search(r'id="expires">This link works until \d{4}-\d\d-\d\d \d\d:\d\d UTC \(about 24 h', page.text)
    install = re.search(r'id="install"[^>]*href="([^"]+)"', page.text)
    assert install is not None

    res = httpx.get(install.group(1), timeout=30)

    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == APK_MIME
    assert 'filename="app.apk"' in res.headers["content-disposition"]
    assert hashlib.sha256(res.content).hexdigest() == file_digest(apk)[1]


async def test_a_download_resumes_from_where_it_stopped(site: Site, delivered):
    token, apk = delivered
    url = site.links.file_url(token, "app.apk")
    res = httpx.get(url, headers={"Range": "bytes=100-"}, timeout=30)
    assert res.status_code == 206 and res.content == apk.read_bytes()[100:]
    head = httpx.head(url, timeout=30)
    assert head.status_code == 200 and int(head.headers["content-length"]) == apk.stat().st_size


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=10-19", 206, slice(10, 20)),
        ("bytes=-16", 206, slice(-16, None)),
        ("bytes=0-", 206, slice(0, None)),
        ("bytes=999999999-", 416, slice(0, 0)),
        ("bytes=0-1,5-6", 200, slice(0, None)),  # several ranges: the whole file, as HTTP allows
        ("lines=1-2", 200, slice(0, None)),
    ],
)
async def test_byte_ranges(site: Site, delivered, header: str, status: int, part: slice):
    token, apk = delivered
    res = httpx.get(site.links.file_url(token, "app.apk"), headers={"Range": header}, timeout=30)
    assert res.status_code == status and res.content == apk.read_bytes()[part]


async def test_a_big_file_not_in_the_page_cache_streams_whole(site: Site, delivered):
    token, apk = delivered
    big = site.artifacts / TASK / "app.apk"
    with open(big, "ab") as f:  # 40 MB more: ranges of it are read on a thread once evicted below
        for i in range(40):
            f.write(bytes([i]) * (1024 * 1024))
    size, sha = file_digest(big)
    app = site.shelf.get(TASK, "app.apk")
    assert app is not None
    site.shelf.put(app.model_copy(update={"size": size, "sha256": sha}))
    token = site.links.token(TASK, "app.apk", sha, ttl_s=60)
    fd = os.open(big, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # out of the page cache, where the file system allows
    os.close(fd)

    h = hashlib.sha256()
    with httpx.stream("GET", site.links.file_url(token, "app.apk"), timeout=60) as res:
        assert res.status_code == 200 and int(res.headers["content-length"]) == size
        for chunk in res.iter_bytes():
            h.update(chunk)
    assert h.hexdigest() == sha


async def test_a_phone_that_goes_away_mid_download_leaves_the_server_serving(site: Site, delivered):
    token, apk = delivered
    big = site.artifacts / TASK / "app.apk"
    with open(big, "ab") as f:
        f.write(bytes(64 * 1024 * 1024))
    size, sha = file_digest(big)
    app = site.shelf.get(TASK, "app.apk")
    assert app is not None
    site.shelf.put(app.model_copy(update={"size": size, "sha256": sha}))
    url = site.links.file_url(site.links.token(TASK, "app.apk", sha, ttl_s=60), "app.apk")
    for _ in range(3):
        with httpx.stream("GET", url, timeout=30) as res:
            assert res.status_code == 200
            next(res.iter_raw(65536))  # the first bytes, then the connection is dropped
    assert httpx.head(url, timeout=30).status_code == 200


async def test_links_that_must_not_open_get_403_and_what_to_do(
    site: Site, delivered, workspace: Path, keystore: Keystore, launcher
):
    token, apk = delivered
    sha = file_digest(apk)[1]
    other_dir = workspace / "other"
    other_dir.mkdir()
    other = build_apk(other_dir, AppSpec(version_code=9, version_name="9.0"), keystore, name="other.apk")
    other_read = await inspect_apk(other, launcher)
    assert isinstance(other_read, ApkRead)
    other_token = deliver_apk(site, OTHER, other, other_read)
    cases = {
        "expired": (site.links.file_url(site.links.token(TASK, "app.apk", sha, ttl_s=-60), "app.apk"), "expired on"),
        "tampered": (
            site.links.file_url(token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB"), "app.apk"),
            "not valid",
        ),
        "another file": (site.links.file_url(token, "other.apk"), "for another file"),
        "another task's": (site.links.file_url(other_token, "app.apk"), "for another file"),
        "earlier build": (
            site.links.file_url(site.links.token(TASK, "app.apk", "0" * 64, 60), "app.apk"),
            "earlier build",
        ),
        "preview token": (site.links.file_url(PreviewLinks(KEY).token(TASK, 0, 3600), "app.apk"), "not valid"),
    }
    for what, (url, words) in cases.items():
        res = httpx.get(url, timeout=30)
        assert_refused_page(res, 403, words)
        assert "Ask for a new link" in res.text, what
    expired_page = httpx.get(site.links.install_url(site.links.token(TASK, "app.apk", sha, ttl_s=-60)), timeout=30)
    assert_refused_page(expired_page, 403, "expired on")
    # The other task's own link still opens its own file, and only that.
    mine = httpx.get(site.links.file_url(other_token, "other.apk"), timeout=30)
    assert mine.status_code == 200 and mine.content == other.read_bytes()


async def test_a_build_removed_since_gets_a_page_saying_so(site: Site, delivered):
    token, _ = delivered
    shutil.rmtree(site.artifacts / TASK)
    assert_refused_page(httpx.get(site.links.install_url(token), timeout=30), 404, "no longer here")
    assert_refused_page(httpx.get(site.links.file_url(token, "app.apk"), timeout=30), 404, "no longer here")


# -- iOS -------------------------------------------------------------------------------------------


def make_ipa(path: Path) -> Path:
    info = {"CFBundleIdentifier": "dev.honk.calc", "CFBundleShortVersionString": "2.3.0", "CFBundleVersion": "317"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "Payload/Calc.app/Info.plist",
            plistlib.dumps({**info, "CFBundleDisplayName": "Calc"}, fmt=plistlib.FMT_BINARY),
        )
        z.writestr("Payload/Calc.app/Calc", bytes(300_000))
    return path


def deliver_ipa(site: Site) -> tuple[str, Path]:
    (site.artifacts / TASK).mkdir(parents=True)
    ipa = make_ipa(site.artifacts / TASK / "Calc.ipa")
    app = read_ipa(ipa, bundle_id="dev.honk.calc")
    assert isinstance(app, IosApp)
    described = described_ipa(TASK, ipa, app)
    site.shelf.put(described)
    return site.links.token(TASK, ipa.name, described.sha256, ttl_s=3600), ipa


def test_an_ipa_installs_over_the_air_through_its_manifest(tmp_path: Path):
    with serve(tmp_path, public_url="https://honk.example.com") as site:
        token, ipa = deliver_ipa(site)

        page = site.get(site.links.install_url(token))
        install = re.search(r'id="install"[^>]*href="([^"]+)"', page.text)
        assert page.status_code == 200 and install is not None
        link = install.group(1).replace("&amp;", "&")
        assert link.startswith("itms-services://?action=download-manifest&url=https://honk.example.com/dl/")
        manifest_url = unquote(link.split("&url=", 1)[1])
        assert manifest_url == f"https://honk.example.com/dl/{token}/manifest.plist"

        res = site.get(manifest_url)  # what iOS fetches: no cookie, the token in the path

        assert res.status_code == 200 and res.headers["content-type"].startswith("application/xml")
        item = plistlib.loads(res.content)["items"][0]
        assert item["metadata"]["bundle-identifier"] == "dev.honk.calc" and item["metadata"]["title"] == "Calc"
        ipa_url = item["assets"][0]["url"]
        assert ipa_url.startswith("https://honk.example.com/dl/")
        got = site.get(ipa_url)
        assert got.status_code == 200 and got.headers["content-type"] == "application/octet-stream"
        assert got.content == ipa.read_bytes()


def test_over_http_the_ipa_page_says_why_it_cannot_install(tmp_path: Path):
    with serve(tmp_path) as site:  # public URL: http://127.0.0.1:<port>
        token, _ = deliver_ipa(site)
        page = site.get(site.links.install_url(token))
        assert page.status_code == 200 and 'id="refused"' in page.text and "only from an HTTPS address" in page.text
        assert 'id="install"' not in page.text
        res = site.get(site.links.manifest_url(token))
        assert res.status_code == 409 and "only from an HTTPS address" in res.text


def test_the_shelf_never_leaves_a_tasks_area(tmp_path: Path):
    shelf = DeliveryShelf(tmp_path / "artifacts")
    (tmp_path / "artifacts" / TASK).mkdir(parents=True)
    (tmp_path / "secret").write_text("key")
    (tmp_path / "artifacts" / TASK / "link.apk").symlink_to(tmp_path / "secret")
    for task_id, name in [
        (TASK, "../../secret"),
        ("..", "secret"),
        (TASK, "link.apk"),
        (TASK, ".delivered"),
        (TASK, ""),
    ]:
        assert shelf.file(task_id, name) is None and shelf.get(task_id, name) is None, (task_id, name)
    app = DeliveredApp(
        task_id=TASK, name="../x.apk", kind="android-apk", title="x", version="1", build="1", size=1, sha256=""
    )
    with pytest.raises(ValueError, match="not a plain task id and file name"):
        shelf.put(app)
