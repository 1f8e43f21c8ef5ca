"""Reading and checking an APK before it is delivered: real APKs built with aapt and signed with apksigner
(a key made by keytool), apksigner run in bubblewrap as the worker runs it; and what is refused, each with
a message a person can act on: missing, empty, not a zip, cut short, no manifest, unsigned, corrupt,
changed after signing, hostile archives."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from honk.deliver.apk import inspect_apk, read_apk, verify_signature
from honk.domain import ApkRead, DeliveryRefused
from honk.sandbox import Sandbox, SandboxConfig
from honk.testing.android import AppSpec, Keystore, build_apk

pytestmark = pytest.mark.usefixtures("android_tools")


def refused(result: object) -> str:
    assert isinstance(result, DeliveryRefused), result
    return result.why


async def test_a_signed_apk_reads_as_its_manifest_says_and_its_signature_verifies(
    workspace: Path, keystore: Keystore, icon_png: bytes, launcher
):
    spec = AppSpec(
        package="dev.honk.calc", version_code=317, version_name="2.3.0-rc1", label="Calc ✓", icon_png=icon_png
    )
    apk = build_apk(workspace, spec, keystore)

    got = await inspect_apk(apk, launcher)

    assert isinstance(got, ApkRead), got
    assert got.app.package == "dev.honk.calc"
    assert (got.app.version_code, got.app.version_name, got.app.label) == (317, "2.3.0-rc1", "Calc ✓")
    assert got.icon_png == icon_png and got.app.has_icon
    assert got.signature is not None and got.signature.checked and got.signature.verified
    assert got.signature.signer_sha256 == keystore.certificate_sha256
    assert "v2" in got.signature.schemes and "v2" in got.signed_with


async def test_an_app_without_an_icon_reads_with_none(workspace: Path, keystore: Keystore):
    got = read_apk(build_apk(workspace, AppSpec(icon_png=None), keystore))
    assert isinstance(got, ApkRead) and got.icon_png is None and not got.app.has_icon


async def test_an_unsigned_apk_is_refused_with_how_to_sign_it(workspace: Path):
    apk = build_apk(workspace, AppSpec(), keystore=None)
    why = refused(read_apk(apk))
    assert "app.apk is not signed" in why and "apksigner sign" in why


async def test_apksigner_says_why_an_unsigned_apk_does_not_verify(workspace: Path, launcher):
    check = await verify_signature(build_apk(workspace, AppSpec(), keystore=None), launcher)
    assert check.checked and not check.verified and "META-INF/MANIFEST.MF" in check.why


async def test_a_truncated_apk_is_refused_as_cut_short(workspace: Path, keystore: Keystore, launcher):
    apk = build_apk(workspace, AppSpec(), keystore)
    apk.write_bytes(apk.read_bytes()[: apk.stat().st_size // 2])
    why = refused(await inspect_apk(apk, launcher))
    assert "app.apk was cut short" in why and "truncated APK" in why


async def test_missing_and_empty_files_are_refused(workspace: Path, launcher):
    assert "left no file gone.apk" in refused(await inspect_apk(workspace / "gone.apk", launcher))
    (workspace / "empty.apk").write_bytes(b"")
    assert "empty.apk is empty" in refused(await inspect_apk(workspace / "empty.apk", launcher))


def test_a_file_that_is_not_a_zip_is_refused(workspace: Path):
    (workspace / "app.apk").write_text("<html>404 Not Found</html>\n" * 100)
    assert refused(read_apk(workspace / "app.apk")) == "app.apk is not an APK: it is not a zip archive."


def test_a_zip_without_a_manifest_is_refused(workspace: Path):
    with zipfile.ZipFile(workspace / "app.apk", "w") as z:
        z.writestr("classes.dex", b"dex\n035\x00")
    assert "app.apk has no AndroidManifest.xml" in refused(read_apk(workspace / "app.apk"))


def test_a_manifest_that_is_not_a_binary_manifest_is_refused_as_corrupt(workspace: Path):
    with zipfile.ZipFile(workspace / "app.apk", "w") as z:
        z.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00" + bytes(range(256)) * 8)
        z.writestr("META-INF/CERT.SF", b"Signature-Version: 1.0\n")
        z.writestr("META-INF/CERT.RSA", b"\x30\x82")
    why = refused(read_apk(workspace / "app.apk"))
    assert why.startswith("app.apk") and "corrupt" in why


def test_a_damaged_entry_is_refused_as_corrupt(workspace: Path, keystore: Keystore):
    apk = build_apk(workspace, AppSpec(), keystore)
    info = zipfile.ZipFile(apk).getinfo("resources.arsc")
    data = bytearray(apk.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # one flipped bit in the stored bytes: the CRC disagrees
    apk.write_bytes(bytes(data))
    why = refused(read_apk(apk))
    assert "resources.arsc is corrupt" in why


async def test_an_apk_changed_after_signing_is_refused_by_apksigner(workspace: Path, keystore: Keystore, launcher):
    apk = build_apk(workspace, AppSpec(), keystore)
    data = bytearray(apk.read_bytes())
    # The first entry's modification time, in its local header: nothing a zip reader checks, but inside
    # what the v2/v3 signature covers.
    struct.pack_into("<H", data, 10, 0x6000)
    apk.write_bytes(bytes(data))
    assert isinstance(read_apk(apk), ApkRead)  # it still reads...

    why = refused(await inspect_apk(apk, launcher))

    assert "app.apk's signature does not verify" in why and "Sign it again" in why


async def test_without_apksigner_the_app_is_read_and_the_check_says_it_was_not_made(
    workspace: Path, keystore: Keystore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    apk = build_apk(workspace, AppSpec(), keystore)
    # A machine where only a shell is installed: programs Honk starts find nothing else on PATH.
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    for tool in ("bash", "sh"):
        (bare / tool).symlink_to(f"/bin/{tool}")
    monkeypatch.setenv("PATH", str(bare))
    launcher = Sandbox(SandboxConfig(mode="off")).launcher(tmp_path / "area", workspace, [], "deliver")
    try:
        got = await inspect_apk(apk, launcher)
    finally:
        launcher.close()

    assert isinstance(got, ApkRead) and got.app.package == "dev.honk.sample"
    assert got.signature is not None and not got.signature.checked and not got.signature.verified
    assert got.signature.why.startswith("apksigner is not installed here")


# -- hostile archives ------------------------------------------------------------------------------


def test_a_zip_bomb_manifest_is_refused_before_it_is_unpacked(workspace: Path):
    with zipfile.ZipFile(workspace / "app.apk", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("AndroidManifest.xml", bytes(200 * 1024 * 1024))  # ~200 KB packed
    why = refused(read_apk(workspace / "app.apk"))
    assert "AndroidManifest.xml is 209,715,200 bytes, more than Honk reads" in why


def test_a_manifest_whose_size_lies_is_cut_at_the_cap(workspace: Path):
    apk = workspace / "app.apk"
    with zipfile.ZipFile(apk, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("AndroidManifest.xml", bytes(8 * 1024 * 1024))
    data = bytearray(apk.read_bytes())
    # Declare 100 bytes in both headers: zipfile then stops inflating at 100 and the CRC disagrees.
    info = zipfile.ZipFile(apk).getinfo("AndroidManifest.xml")
    struct.pack_into("<I", data, info.header_offset + 22, 100)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    apk.write_bytes(bytes(data))
    assert "AndroidManifest.xml is corrupt" in refused(read_apk(apk))


@pytest.mark.parametrize(
    "name", ["../../.ssh/authorized_keys", "/etc/passwd", "assets/../../escape", "C:/boot.ini", "res\\..\\x"]
)
def test_names_that_leave_the_archive_are_refused(workspace: Path, name: str):
    with zipfile.ZipFile(workspace / "app.apk", "w") as z:
        z.writestr("AndroidManifest.xml", b"x")
        z.writestr(name, b"x")
    why = refused(read_apk(workspace / "app.apk"))
    assert f"contains a file named {name!r}" in why


def test_a_manifest_twice_is_refused(workspace: Path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(workspace / "app.apk", "w") as z:
            z.writestr("AndroidManifest.xml", b"one")
            z.writestr("AndroidManifest.xml", b"two")
    assert "'AndroidManifest.xml' that appears twice" in refused(read_apk(workspace / "app.apk"))


def test_a_manifest_packed_with_bzip2_is_refused(workspace: Path):
    with zipfile.ZipFile(workspace / "app.apk", "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("AndroidManifest.xml", b"x" * 1000)
    assert "compressed with a method phones do not read" in refused(read_apk(workspace / "app.apk"))


def test_an_archive_claiming_a_billion_files_is_refused_before_its_directory_is_read(workspace: Path):
    # Only end records (zip64's and the classic one, pointing at it): what zipfile would trust to
    # allocate a billion entries.
    zip64_end = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**9, 10**9, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    (workspace / "app.apk").write_bytes(zip64_end + locator + end)
    assert "lists 1,000,000,000 files, more than Honk reads" in refused(read_apk(workspace / "app.apk"))


def test_a_real_zip64_archive_gets_past_the_count_check(workspace: Path):
    with zipfile.ZipFile(workspace / "app.apk", "w") as z:
        for i in range(0x10000 + 10):  # past the classic end record's count: zipfile writes zip64 records
            z.writestr(f"r/{i}", b"")
    assert "has no AndroidManifest.xml" in refused(read_apk(workspace / "app.apk"))
