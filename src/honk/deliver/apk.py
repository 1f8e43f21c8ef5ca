"""Reading an APK a task's build made (package, versionName/versionCode, label, launcher icon) and
checking its signature, or saying why it cannot be delivered.

The binary manifest and resource table are read with pyaxmlparser, a kept parser (Apache-2.0, the
reading half of androguard's APK class), rather than androguard itself: both read an APK offline, but
pyaxmlparser brings three small dependencies (lxml, asn1crypto, click) where androguard 4 brings about
forty (IPython, networkx, loguru, a second SQLAlchemy pin...) for analysis Honk does not do. Its reads
are not bounded, so the archive is opened and every member it reads is size-checked here first
(honk.deliver.archive); its own v2-signature reader loads the whole file into memory, so the signature
schemes present are found here from the signing block's header instead.

Whether the signature *verifies* is for `apksigner verify` (the Android SDK's tool, in Debian), run
through a launcher like any program Honk starts: when it is not installed that is said, not raised.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import struct
from pathlib import Path

from pyaxmlparser import APK

from honk.deliver.archive import Archive, ArchiveProblem, open_archive
from honk.domain import AndroidApp, ApkRead, DeliveryRefused, SignatureCheck
from honk.protocols import Launcher

MANIFEST = "AndroidManifest.xml"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_RESOURCES_BYTES = 64 * 1024 * 1024  # resources.arsc: big apps' tables are tens of MB
MAX_ICON_BYTES = 1024 * 1024
MAX_SIGNING_BLOCK_BYTES = 16 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"
APKSIGNER_TIMEOUT_S = 120.0
_NO_APKSIGNER = "honk: apksigner is not installed"
_SIG_BLOCK_MAGIC = b"APK Sig Block 42"
_SCHEMES = {0x7109871A: "v2", 0xF05368C0: "v3", 0x1B93AD61: "v3"}  # v3.1 is a v3 block too
_V1_SIGNATURE = re.compile(r"^META-INF/[^/]+\.(RSA|DSA|EC)$")

# pyaxmlparser logs what it could not resolve as warnings; Honk says it in its own words.
logging.getLogger("pyaxmlparser").setLevel(logging.ERROR)


def read_apk(path: Path) -> ApkRead | DeliveryRefused:
    """The app in the APK at `path`, or why it is refused: missing or empty, not a zip or cut short,
    no AndroidManifest.xml, unsigned, corrupt. Blocking (run it in a thread); reads a bounded amount."""
    try:
        with open_archive(path, "APK") as archive:
            return _read(archive)
    except ArchiveProblem as e:
        return DeliveryRefused(why=e.why)


def _read(archive: Archive) -> ApkRead | DeliveryRefused:
    name = archive.path.name
    manifest = archive.member(MANIFEST)
    if manifest is None:
        return DeliveryRefused(
            why=f"{name} has no AndroidManifest.xml, so it is not an Android app: check that the build's "
            "`artifacts` names the APK itself."
        )
    archive.read(manifest, MAX_MANIFEST_BYTES)  # sizes and checksum checked before pyaxmlparser reads it
    if (resources := archive.member("resources.arsc")) is not None:
        archive.read(resources, MAX_RESOURCES_BYTES)
    signed_with = _schemes_present(archive)
    if not signed_with:
        return DeliveryRefused(
            why=f"{name} is not signed, and Android installs only signed apps: sign it in the build "
            "(`apksigner sign`, or Gradle's signingConfig; a debug key is fine for testing)."
        )
    try:
        apk = APK(str(archive.path))
        if not apk.is_valid_APK() or not apk.get_package():
            return DeliveryRefused(
                why=f"{name}'s AndroidManifest.xml is corrupt: it is not a readable binary manifest."
            )
        app, icon = _app(apk, archive)
    except ArchiveProblem:
        raise
    except Exception as e:  # noqa: BLE001 - a parser fed hostile bytes fails in many ways; each means "corrupt"
        return DeliveryRefused(why=f"{name} is corrupt: its manifest or resources cannot be read ({type(e).__name__}).")
    return ApkRead(app=app, icon_png=icon, signed_with=signed_with)


def _app(apk: APK, archive: Archive) -> tuple[AndroidApp, bytes | None]:
    package = str(apk.get_package())
    code = str(apk.get_androidversion_code() or "")
    label = str(apk.get_app_name() or "")
    icon = None
    if (icon_name := apk.get_app_icon()) and (info := archive.member(icon_name)) is not None:
        data = archive.read(info, MAX_ICON_BYTES)
        icon = data if data.startswith(PNG) else None  # adaptive (XML) and WebP icons are not shown
    app = AndroidApp(
        package=package,
        version_name=str(apk.get_androidversion_name() or ""),
        version_code=int(code) if code.isdigit() else 0,
        # An unresolved reference ("@7f0a0001", "@android:string/...") is no name to show a person.
        label=label if label and not label.startswith("@") else package,
        has_icon=icon is not None,
    )
    return app, icon


def _schemes_present(archive: Archive) -> list[str]:
    """The signature schemes the file carries (not whether they verify): v1's META-INF signature files,
    and the ids in the APK Signing Block that sits just before the central directory (v2, v3)."""
    names = set(archive.names())
    found = []
    if any(_V1_SIGNATURE.match(n) and f"{n.rsplit('.', 1)[0]}.SF" in names for n in names):
        found.append("v1")
    end = archive.directory_offset
    if end < 32:
        return found
    with open(archive.path, "rb") as f:
        f.seek(end - 24)
        size, magic = struct.unpack("<Q16s", f.read(24))
        if magic != _SIG_BLOCK_MAGIC or size > MAX_SIGNING_BLOCK_BYTES or size + 8 > end:
            return found
        f.seek(end - size - 8)
        block = f.read(size + 8)
    at, stop = 8, len(block) - 24
    while at + 12 <= stop:
        length, key = struct.unpack_from("<QI", block, at)
        if length < 4 or at + 8 + length > stop:
            break
        if (scheme := _SCHEMES.get(key)) and scheme not in found:
            found.append(scheme)
        at += 8 + length
    return found


async def verify_signature(apk: Path, launcher: Launcher, timeout_s: float = APKSIGNER_TIMEOUT_S) -> SignatureCheck:
    """`apksigner verify --print-certs` on `apk` (a path the launcher's programs see), run through
    `launcher`: whether it verified, the first signer's certificate digest, or why it could not say."""
    command = (
        f"command -v apksigner >/dev/null 2>&1 || {{ echo {shlex.quote(_NO_APKSIGNER)}; exit 3; }}; "
        f"exec apksigner verify --verbose --print-certs {shlex.quote(str(apk))}"
    )
    res = await launcher.shell(command, timeout_s=timeout_s)
    if _NO_APKSIGNER in res.output:
        return SignatureCheck(
            checked=False,
            verified=False,
            why="apksigner is not installed here, so the signature was not checked "
            "(install it on the worker: apt-get install apksigner).",
        )
    if res.timed_out:
        return SignatureCheck(checked=False, verified=False, why=f"apksigner did not finish within {timeout_s:.0f} s.")
    signer = re.search(r"^Signer #1 certificate SHA-256 digest: ([0-9a-f]{64})\s*$", res.output, re.M)
    schemes = re.findall(r"^Verified using (v\d) scheme[^:]*: true\s*$", res.output, re.M)
    if res.exit_code == 0 and re.search(r"^Verifies\s*$", res.output, re.M):
        return SignatureCheck(
            checked=True, verified=True, signer_sha256=signer.group(1) if signer else None, schemes=schemes
        )
    errors = [line.removeprefix("ERROR: ") for line in res.output.splitlines() if line.startswith("ERROR")]
    why = "; ".join(errors[:3]) or res.output.strip()[-300:] or f"apksigner exited with {res.exit_code}"
    return SignatureCheck(checked=True, verified=False, why=why)


async def inspect_apk(path: Path, launcher: Launcher, seen_as: Path | None = None) -> ApkRead | DeliveryRefused:
    """`read_apk`, then `verify_signature` (the launcher sees the file as `seen_as`, by default `path`):
    the app with its signature check, or why it is refused. A signature apksigner rejects is refused;
    one it could not check is delivered, and the check says why it was not made."""
    read = await asyncio.to_thread(read_apk, path)
    if isinstance(read, DeliveryRefused):
        return read
    check = await verify_signature(seen_as or path, launcher)
    if check.checked and not check.verified:
        return DeliveryRefused(
            why=f"{path.name}'s signature does not verify ({check.why}): the file is corrupt or was changed "
            "after signing. Sign it again as the last step of the build."
        )
    return read.model_copy(update={"signature": check})
