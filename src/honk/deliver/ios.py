"""An `.ipa` delivered over the air (ad-hoc or enterprise signed): its Info.plist read from the archive,
the `manifest.plist` iOS asks for, and the `itms-services://` link that starts the install.

iOS fetches the manifest and the `.ipa` itself, only over HTTPS with a certificate the phone trusts,
and sends no cookies while doing so: both URLs are signed links (honk.deliver.links). The manifest's
bundle id must be the app's or iOS refuses the install late, with no reason shown: it is checked here,
against the `bundle_id` the repo configured, before anything is posted."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from honk.deliver.archive import ArchiveProblem, open_archive
from honk.domain import DeliveryRefused, IosApp

MAX_INFO_PLIST_BYTES = 1024 * 1024  # real ones are a few KB
MAX_FIELD_CHARS = 200
_INFO_PLIST = re.compile(r"^Payload/[^/]+\.app/Info\.plist$")


def read_ipa(path: Path, bundle_id: str | None = None) -> IosApp | DeliveryRefused:
    """The app in the `.ipa` at `path` (bundle id, version, build, title), or why it is refused: missing or
    empty, not a zip, no `Payload/<App>.app/Info.plist`, an unreadable plist, or a bundle id other than
    `bundle_id` (the repo's `[deliver] bundle_id`, when set). Blocking; reads a bounded amount."""
    try:
        with open_archive(path, ".ipa") as archive:
            found = [n for n in archive.names() if _INFO_PLIST.match(n)]
            if not found:
                return DeliveryRefused(
                    why=f"{path.name} has no Payload/<App>.app/Info.plist, so it is not an iOS app archive: "
                    "export the .ipa with `xcodebuild -exportArchive` (method ad-hoc or enterprise)."
                )
            if len(found) > 1:
                return DeliveryRefused(why=f"{path.name} holds {len(found)} apps in Payload/; an .ipa holds one.")
            info = archive.member(found[0])
            assert info is not None
            data = archive.read(info, MAX_INFO_PLIST_BYTES)
    except ArchiveProblem as e:
        return DeliveryRefused(why=e.why)
    return _app(path.name, found[0], data, bundle_id)


def _app(name: str, where: str, data: bytes, bundle_id: str | None) -> IosApp | DeliveryRefused:
    try:
        plist = plistlib.loads(data)  # XML or binary: plistlib tells them apart; XML entities are refused
    except Exception as e:  # noqa: BLE001 - hostile bytes fail a parser in many ways; each means "corrupt"
        return DeliveryRefused(why=f"{name}: {where} is not a readable property list ({type(e).__name__}).")
    if not isinstance(plist, dict):
        return DeliveryRefused(why=f"{name}: {where} is not a dictionary of app properties.")
    got = _text(plist, "CFBundleIdentifier")
    if not got:
        return DeliveryRefused(why=f"{name}: {where} names no CFBundleIdentifier.")
    if bundle_id and got != bundle_id:
        return DeliveryRefused(
            why=f"{name} is the app {got}, but .honk.toml's [deliver] bundle_id is {bundle_id}: iOS would refuse "
            "to install it under that name. Fix the build's bundle identifier or the bundle_id setting."
        )
    app_dir = where.split("/")[1].removesuffix(".app")
    return IosApp(
        bundle_id=got,
        version=_text(plist, "CFBundleShortVersionString"),
        build=_text(plist, "CFBundleVersion"),
        title=_text(plist, "CFBundleDisplayName") or _text(plist, "CFBundleName") or app_dir[:MAX_FIELD_CHARS],
    )


def _text(plist: dict[str, Any], key: str) -> str:
    value = plist.get(key)
    return value.strip()[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def https_refusal(public_url: str) -> DeliveryRefused | None:
    """Why `public_url` cannot serve an over-the-air install, or None when it can."""
    parts = urlsplit(public_url)
    if parts.scheme == "https" and parts.hostname:
        return None
    return DeliveryRefused(
        why=f"iOS installs over the air only from an HTTPS address, and Honk's public URL is {public_url}: set "
        "HONK_PUBLIC_URL to an https:// address the phone trusts (a tunnel such as Cloudflare Tunnel or "
        "Tailscale Funnel gives one)."
    )


def ota_manifest(app: IosApp, ipa_url: str) -> bytes | DeliveryRefused:
    """The `manifest.plist` (XML) that tells iOS where the `.ipa` is and which app it is."""
    if (refused := https_refusal(ipa_url)) is not None:
        return refused
    manifest = {
        "items": [
            {
                "assets": [{"kind": "software-package", "url": ipa_url}],
                "metadata": {
                    "bundle-identifier": app.bundle_id,
                    "bundle-version": app.version or app.build,
                    "kind": "software",
                    "title": app.title,
                },
            }
        ]
    }
    return plistlib.dumps(manifest, fmt=plistlib.FMT_XML)


def itms_services_link(manifest_url: str) -> str | DeliveryRefused:
    """The link that makes iOS fetch `manifest_url` and offer the install. The manifest's URL is quoted
    whole but for its scheme and slashes, so nothing in it reads as another parameter of the link."""
    if (refused := https_refusal(manifest_url)) is not None:
        return refused
    return f"itms-services://?action=download-manifest&url={quote(manifest_url, safe=':/')}"
