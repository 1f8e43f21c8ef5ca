"""An `.ipa` delivered over the air: its Info.plist (binary and XML) read from a fixture archive built here,
the manifest.plist iOS fetches (parsed back with plistlib, its URL a signed link that opens the file), the
itms-services link; and what is refused: an HTTP public URL, another bundle id, no Info.plist, not a zip,
hostile archives (bombs, huge or malicious plists, names leaving the archive)."""

from __future__ import annotations

import plistlib
import struct
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from honk.deliver.ios import itms_services_link, ota_manifest, read_ipa
from honk.deliver.links import ArtifactLinks
from honk.domain import ArtifactGrant, DeliveryRefused, IosApp

INFO = {
    "CFBundleIdentifier": "dev.honk.calc",
    "CFBundleShortVersionString": "2.3.0",
    "CFBundleVersion": "317",
    "CFBundleDisplayName": "Calc",
    "CFBundleName": "CalcApp",
    "CFBundleExecutable": "Calc",
}


def make_ipa(path: Path, info: dict | bytes | None = INFO, app: str = "Calc", fmt=plistlib.FMT_BINARY) -> Path:
    """An .ipa as Xcode exports one, as far as Honk reads it: Payload/<App>.app with its Info.plist."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"Payload/{app}.app/{app}", b"\xcf\xfa\xed\xfe" + bytes(64))  # a Mach-O header, no more
        if info is not None:
            data = info if isinstance(info, bytes) else plistlib.dumps(info, fmt=fmt)
            z.writestr(f"Payload/{app}.app/Info.plist", data)
        z.writestr(f"Payload/{app}.app/_CodeSignature/CodeResources", b"<plist/>")
    return path


def refused(result: object) -> str:
    assert isinstance(result, DeliveryRefused), result
    return result.why


@pytest.mark.parametrize("fmt", [plistlib.FMT_BINARY, plistlib.FMT_XML], ids=["binary", "xml"])
def test_an_ipa_reads_as_its_info_plist_says(tmp_path: Path, fmt):
    got = read_ipa(make_ipa(tmp_path / "Calc.ipa", fmt=fmt), bundle_id="dev.honk.calc")
    assert got == IosApp(bundle_id="dev.honk.calc", version="2.3.0", build="317", title="Calc")


def test_the_title_falls_back_to_the_bundle_name_then_the_app_folder(tmp_path: Path):
    no_display = {k: v for k, v in INFO.items() if k != "CFBundleDisplayName"}
    assert read_ipa(make_ipa(tmp_path / "a.ipa", no_display)).title == "CalcApp"  # type: ignore[union-attr]
    bare = {"CFBundleIdentifier": "dev.honk.calc"}
    got = read_ipa(make_ipa(tmp_path / "b.ipa", bare, app="Pocket Calc"))
    assert got == IosApp(bundle_id="dev.honk.calc", version="", build="", title="Pocket Calc")


def test_the_manifest_names_the_signed_ipa_url_bundle_version_and_title(tmp_path: Path):
    app = read_ipa(make_ipa(tmp_path / "Calc.ipa"), bundle_id="dev.honk.calc")
    assert isinstance(app, IosApp)
    links = ArtifactLinks(b"k" * 32, "https://honk.example.com/")
    token = links.token("t-abcdefghijkl", "Calc.ipa", "ab" * 32, ttl_s=3600)

    manifest = plistlib.loads(ota_manifest(app, links.file_url(token, "Calc.ipa")))  # type: ignore[arg-type]
    link = itms_services_link(links.manifest_url(token))

    item = manifest["items"][0]
    assert item["metadata"] == {
        "bundle-identifier": "dev.honk.calc",
        "bundle-version": "2.3.0",
        "kind": "software",
        "title": "Calc",
    }
    (asset,) = item["assets"]
    assert asset["kind"] == "software-package"
    url = urlsplit(asset["url"])
    assert (url.scheme, url.hostname) == ("https", "honk.example.com")
    _, dl, ipa_token, name = url.path.split("/")
    assert (dl, name) == ("dl", "Calc.ipa")
    grant = links.check(ipa_token, name, "ab" * 32)
    assert isinstance(grant, ArtifactGrant) and (grant.task_id, grant.name) == ("t-abcdefghijkl", "Calc.ipa")

    assert isinstance(link, str) and link.startswith("itms-services://?action=download-manifest&url=https")
    manifest_url = parse_qs(urlsplit(link).query)["url"][0]
    assert unquote(manifest_url) == f"https://honk.example.com/dl/{token}/manifest.plist"
    assert isinstance(links.check(urlsplit(manifest_url).path.split("/")[2], "manifest.plist"), ArtifactGrant)


def test_an_http_public_url_is_refused_with_what_to_set(tmp_path: Path):
    app = read_ipa(make_ipa(tmp_path / "Calc.ipa"))
    assert isinstance(app, IosApp)
    links = ArtifactLinks(b"k" * 32, "http://192.168.1.20:8787")
    token = links.token("t-abcdefghijkl", "Calc.ipa", "ab" * 32, ttl_s=3600)
    for refusal in (
        ota_manifest(app, links.file_url(token, "Calc.ipa")),
        itms_services_link(links.manifest_url(token)),
    ):
        why = refused(refusal)
        assert "only from an HTTPS address" in why and "http://192.168.1.20:8787" in why and "HONK_PUBLIC_URL" in why


def test_a_bundle_id_other_than_the_configured_one_is_refused(tmp_path: Path):
    why = refused(read_ipa(make_ipa(tmp_path / "Calc.ipa"), bundle_id="com.example.calc"))
    assert "is the app dev.honk.calc, but .honk.toml's [deliver] bundle_id is com.example.calc" in why


def test_an_ipa_without_info_plist_is_refused(tmp_path: Path):
    why = refused(read_ipa(make_ipa(tmp_path / "Calc.ipa", info=None)))
    assert "Calc.ipa has no Payload/<App>.app/Info.plist" in why


def test_an_info_plist_outside_payload_does_not_count(tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "Calc.ipa", "w") as z:
        z.writestr("Calc.app/Info.plist", plistlib.dumps(INFO))
        z.writestr("Payload/Calc.app/Frameworks/X.framework/Info.plist", plistlib.dumps(INFO))
    assert "has no Payload/<App>.app/Info.plist" in refused(read_ipa(tmp_path / "Calc.ipa"))


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path):
    (tmp_path / "Calc.ipa").write_bytes(plistlib.dumps(INFO))
    assert refused(read_ipa(tmp_path / "Calc.ipa")) == "Calc.ipa is not an .ipa: it is not a zip archive."


def test_missing_empty_and_cut_short_ipas_are_refused(tmp_path: Path):
    assert "left no file Calc.ipa" in refused(read_ipa(tmp_path / "Calc.ipa"))
    (tmp_path / "Empty.ipa").write_bytes(b"")
    assert "Empty.ipa is empty" in refused(read_ipa(tmp_path / "Empty.ipa"))
    whole = make_ipa(tmp_path / "Cut.ipa").read_bytes()
    (tmp_path / "Cut.ipa").write_bytes(whole[: len(whole) - 30])
    assert "Cut.ipa was cut short" in refused(read_ipa(tmp_path / "Cut.ipa"))


def test_info_plist_without_a_bundle_id_or_not_a_dictionary_is_refused(tmp_path: Path):
    assert "names no CFBundleIdentifier" in refused(read_ipa(make_ipa(tmp_path / "a.ipa", {"CFBundleName": "X"})))
    assert "not a dictionary" in refused(read_ipa(make_ipa(tmp_path / "b.ipa", plistlib.dumps(["x"]))))
    assert "not a readable property list" in refused(read_ipa(make_ipa(tmp_path / "c.ipa", b"bplist00\xff\xff")))


# -- hostile archives ------------------------------------------------------------------------------


def test_a_zip_bomb_info_plist_is_refused_before_it_is_unpacked(tmp_path: Path):
    bomb = b"<?xml version='1.0'?><plist><dict>" + b" " * (64 * 1024 * 1024) + b"</dict></plist>"
    why = refused(read_ipa(make_ipa(tmp_path / "Calc.ipa", bomb)))
    assert f"Info.plist is {len(bomb):,} bytes, more than Honk reads (1,048,576)" in why


def test_a_huge_stored_info_plist_is_refused(tmp_path: Path):
    huge = plistlib.dumps({**INFO, "Padding": "x" * (2 * 1024 * 1024)})
    with zipfile.ZipFile(tmp_path / "Calc.ipa", "w", zipfile.ZIP_STORED) as z:
        z.writestr("Payload/Calc.app/Info.plist", huge)
    assert "more than Honk reads" in refused(read_ipa(tmp_path / "Calc.ipa"))


def test_an_xml_plist_with_entities_is_refused(tmp_path: Path):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><plist version="1.0"><dict><key>CFBundleIdentifier</key>'
        b"<string>&c;</string></dict></plist>"
    )
    assert "not a readable property list" in refused(read_ipa(make_ipa(tmp_path / "Calc.ipa", laughs)))


def test_a_binary_plist_that_contains_itself_is_read_or_refused_without_looping(tmp_path: Path):
    # bplist00: one array (object 0) whose only element is object 0.
    objects = b"\xa1\x00"
    offsets = struct.pack(">B", 8)
    trailer = struct.pack(">6xBBQQQ", 1, 1, 1, 0, 8 + len(objects))
    data = b"bplist00" + objects + offsets + trailer
    assert "not a dictionary" in refused(read_ipa(make_ipa(tmp_path / "Calc.ipa", data)))


@pytest.mark.parametrize(
    "name", ["Payload/../../Library/LaunchAgents/x.plist", "/Payload/Calc.app/Info.plist", "Payload\\Calc.app\\x"]
)
def test_names_that_leave_the_archive_are_refused(tmp_path: Path, name: str):
    path = make_ipa(tmp_path / "Calc.ipa")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(name, b"x")
    assert f"contains a file named {name!r}" in refused(read_ipa(path))


def test_two_apps_in_payload_are_refused(tmp_path: Path):
    path = make_ipa(tmp_path / "Calc.ipa")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("Payload/Other.app/Info.plist", plistlib.dumps({**INFO, "CFBundleIdentifier": "evil.other"}))
    assert "holds 2 apps in Payload/" in refused(read_ipa(path))
