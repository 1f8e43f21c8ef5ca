"""Delivery and deploy on Honk's own web server, as `honk server` builds it (honk.composition.server) on a
real uvicorn: a delivered app's install page is mounted and opens from its signed link (its QR code inline,
and as a PNG for Slack's image block), a changed link opens neither; the task page and the API's deploy and
revert routes are in the tests below."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from conftest import Served, serving, settings_for
from honk.composition.server import delivery_links
from honk.deliver.qr import qr_png
from honk.deliver.shelf import DeliveryShelf
from honk.domain import ANDROID_APK, DeliveredApp

PNG = b"\x89PNG\r\n\x1a\n"
# One server for the module (its start is most of the time): its tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(tmp_path_factory: pytest.TempPathFactory, temporal) -> AsyncIterator[Served]:
    async with serving(settings_for(tmp_path_factory.mktemp("honk"), temporal.address)) as served:
        yield served


def shelve(served: Served, task_id: str, name: str = "app.apk", body: bytes = b"PK\x03\x04 an apk") -> str:
    """A file delivered as the deliver step leaves it (the file, what its page shows); its install token."""
    artifacts = served.settings.artifacts_dir
    (artifacts / task_id).mkdir(parents=True, exist_ok=True)
    (artifacts / task_id / name).write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    app = DeliveredApp(
        task_id=task_id,
        name=name,
        kind=ANDROID_APK,
        title="Calc",
        version="2.3.0",
        build="317",
        size=len(body),
        sha256=digest,
        bundle_id="dev.honk.calc",
    )
    DeliveryShelf(artifacts).put(app)
    return delivery_links(served.settings).token(task_id, name, digest, ttl_s=3600)


async def test_the_install_page_is_mounted_with_its_qr_code_inline_and_as_a_png(web: Served):
    token = shelve(web, "t-install00001")
    install_url = delivery_links(web.settings).install_url(token)
    assert install_url.startswith(web.settings.base_url + "/install/")

    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        page = await http.get(f"/install/{token}")
        qr = await http.get(f"/install/{token}/qr.png")

    assert page.status_code == 200, page.text
    assert "<title>Calc</title>" in page.text and 'aria-label="QR code of the install link"' in page.text
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(PNG) and qr.content == qr_png(install_url)
    assert qr.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), lambda t: "x" * 5000, lambda t: "%00"],
    ids=["tampered", "oversized", "nul"],
)
async def test_a_changed_link_opens_neither_the_page_nor_its_qr_code(web: Served, mangle):
    token = mangle(shelve(web, "t-install00002"))
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        for path in (f"/install/{token}", f"/install/{token}/qr.png"):
            res = await http.get(path)
            assert res.status_code in (403, 404), (path, res.status_code)
            assert not res.content.startswith(PNG)


async def test_an_expired_link_says_so_and_makes_no_qr_code(web: Served):
    task_id, body = "t-install00003", b"PK an apk"
    shelve(web, task_id, body=body)
    expired = delivery_links(web.settings).token(task_id, "app.apk", hashlib.sha256(body).hexdigest(), ttl_s=-1)
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as http:
        res = await http.get(f"/install/{expired}/qr.png")
    assert res.status_code == 403 and "expired on" in res.text


async def test_qr_codes_refuse_an_empty_or_oversized_link():
    for url in ("", "https://honk.example.com/" + "a" * 3000):
        with pytest.raises(ValueError):
            qr_png(url)
