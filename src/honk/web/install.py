"""A delivered app's install page and files, opened from a phone through a signed, expiring link
(honk.deliver.links) and nothing else: no session, no cookie (iOS sends none while it installs).

`GET /install/{token}`: the app's name, version, build, icon, an Install button, a QR code of this page
(to open it on the phone from a laptop), and when the link stops working. `GET /install/{token}/qr.png`: that QR code as an image, for the Slack
thread's image block (Slack fetches it; the token opens it as it opens the page). `GET /dl/{token}/{name}`:
the file, streamed from disk with the type the phone installs it by. `GET /dl/{token}/manifest.plist`:
for an `.ipa`, the manifest iOS fetches. A link that does not open (expired, changed, another file's,
an earlier build's) gets 403 and a plain page saying what to do.

Pages are plain HTML from Honk's origin with nothing of Honk's on them (no script, no session), and
never sent to another site as a referrer: the token in the address is the authorisation."""

from __future__ import annotations

import base64
import time
from html import escape

from fastapi import APIRouter
from fastapi.responses import Response

from honk.deliver.ios import itms_services_link, ota_manifest
from honk.deliver.links import MANIFEST, ArtifactLinks
from honk.deliver.qr import qr_png, qr_svg
from honk.deliver.shelf import DeliveryShelf
from honk.domain import ANDROID_APK, ArtifactGrant, ArtifactLinkRefused, DeliveredApp, IosApp
from honk.web.file_stream import FileStream

MIME = {".apk": "application/vnd.android.package-archive", ".ipa": "application/octet-stream"}
SECURITY = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
}


def install_router(links: ArtifactLinks, shelf: DeliveryShelf) -> APIRouter:
    r = APIRouter()

    def opened(token: str, name: str | None = None) -> tuple[DeliveredApp, ArtifactGrant] | Response:
        grant = links.check(token, name)
        if isinstance(grant, ArtifactLinkRefused):
            return _page(403, "This link does not open", f"<p>{escape(grant.why)}</p>{ASK_AGAIN}")
        app = shelf.get(grant.task_id, grant.name)
        if app is None or shelf.file(grant.task_id, grant.name) is None:
            return _page(404, "This build is no longer here", f"<p>The task's files were removed.</p>{ASK_AGAIN}")
        if (rebuilt := links.other_build(grant, app.sha256)) is not None:
            return _page(403, "This link does not open", f"<p>{escape(rebuilt.why)}</p>{ASK_AGAIN}")
        return app, grant

    @r.get("/install/{token}", include_in_schema=False)
    async def install_page(token: str) -> Response:
        found = opened(token)
        if isinstance(found, Response):
            return found
        app, grant = found
        return _page(200, app.title, _body(app, links, token, grant.expires, shelf.icon(app.task_id, app.name)))

    @r.get("/install/{token}/qr.png", include_in_schema=False)
    async def install_qr(token: str) -> Response:
        """The QR code of the install page, only for a link that opens it (a refused one gets its page)."""
        found = opened(token)
        if isinstance(found, Response):
            return found
        return Response(qr_png(links.install_url(token)), media_type="image/png", headers=SECURITY)

    @r.api_route("/dl/{token}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def download(token: str, name: str) -> Response:
        found = opened(token, name)
        if isinstance(found, Response):
            return found
        app, _ = found
        if name == MANIFEST and app.name != MANIFEST:
            manifest = ota_manifest(_ios(app), links.file_url(token, app.name))
            if not isinstance(manifest, bytes):
                return _page(409, "This app cannot be installed over the air", f"<p>{escape(manifest.why)}</p>")
            return Response(manifest, media_type="application/xml", headers=SECURITY)
        path = shelf.file(app.task_id, app.name)
        assert path is not None
        media = MIME.get(path.suffix.lower(), "application/octet-stream")
        headers = {**SECURITY, "Cache-Control": "private"}
        return FileStream(path, media_type=media, filename=app.name, headers=headers, etag=app.sha256[:32])

    return r


ASK_AGAIN = (
    "<p>Ask for a new link: the newest one is in the task's Slack thread and on the task's page in Honk "
    "(signed in). Links stop working after a while, and when the app is built again.</p>"
)


def _ios(app: DeliveredApp) -> IosApp:
    return IosApp(bundle_id=app.bundle_id, version=app.version, build=app.build, title=app.title)


def _body(app: DeliveredApp, links: ArtifactLinks, token: str, expires: float, icon: bytes | None) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
    left = max(0.0, expires - time.time()) / 3600
    shown = (
        f'<img alt="" width="72" height="72" src="data:image/png;base64,{base64.b64encode(icon).decode()}">'
        if icon
        else ""
    )
    parts = [
        f'<div style="display:flex;gap:1rem;align-items:center">{shown}<div>',
        f'<p id="version">Version {escape(app.version or "—")} (build {escape(app.build or "—")})</p>',
        f'<p class="small">{escape(app.bundle_id)} · {_size(app.size)}</p></div></div>',
    ]
    if app.kind == ANDROID_APK:
        parts.append(
            f'<p><a id="install" style="{BUTTON}" href="{escape(links.file_url(token, app.name))}">Install</a></p>'
            "<p>Android asks once to allow installs from your browser: allow it, then open the download.</p>"
        )
        parts.append(f"<p>{escape(_signature_words(app))}</p>")
    else:
        link = itms_services_link(links.manifest_url(token))
        if isinstance(link, str):
            parts.append(
                f'<p><a id="install" style="{BUTTON}" href="{escape(link)}">Install</a></p>'
                "<p>Open this page in Safari on the iPhone. An ad-hoc build installs only on the devices its "
                "provisioning profile lists.</p>"
            )
        else:
            parts.append(f'<p id="refused"><strong>Cannot install over the air.</strong> {escape(link.why)}</p>')
    parts.append(
        f'<div style="max-width:12rem">{qr_svg(links.install_url(token))}</div>'
        "<p>Scan to open this page on the phone.</p>"
        f'<p id="expires">This link works until {when} (about {left:.0f} h from now).</p>'
    )
    return "".join(parts)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{max(1, round(n / 1e3))} KB"


def _signature_words(app: DeliveredApp) -> str:
    check = app.signature
    if check is None or not check.checked:
        return f"Signature not checked: {check.why if check else 'no check was made.'}"
    digest = f" (certificate SHA-256 {check.signer_sha256})" if check.signer_sha256 else ""
    return f"Signature verified by apksigner, schemes {', '.join(check.schemes) or '—'}{digest}."


BUTTON = (
    "display:inline-block;padding:.8rem 2rem;background:#1a7f37;color:#fff;border-radius:.5rem;"
    "text-decoration:none;font-size:1.2rem"
)


def _page(status: int, title: str, body: str) -> Response:
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title></head>
<body style="font-family:system-ui,sans-serif;margin:1rem;max-width:40rem;line-height:1.4">
<h1 style="font-size:1.3rem">{escape(title)}</h1>{body}</body></html>"""
    return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=SECURITY)
