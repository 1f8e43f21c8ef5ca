"""Build the playlist site: dist/site/index.html and dist/playlist-site.zip, and the phone app,
dist/playlist.apk (a prebuilt, signed stand-in for the app a real repo's Android build would make).

Standard library only: run it with any ``python3 build.py``.
"""

import base64
import json
import pathlib
import shutil
import zipfile

from playlist.page import render_page

ROOT = pathlib.Path(__file__).resolve().parent
DATA = ROOT / "data" / "playlists.json"
DIST = ROOT / "dist"
SITE = DIST / "site"
ARCHIVE = DIST / "playlist-site.zip"
APP = ROOT / "android" / "playlist.apk.b64"
APK = DIST / "playlist.apk"


def load_playlists():
    with DATA.open(encoding="utf-8") as handle:
        return json.load(handle)


def write_archive(site, archive):
    """Zip the site (fixed timestamps, so the same page gives the same zip)."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(site.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(site).as_posix(), date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())


def shown_playlists():
    """The playlists the page shows."""
    playlists = load_playlists()
    # Known bug: summary() crashes on an empty playlist (see README), so skip those for now.
    shown = [playlist for playlist in playlists if playlist["tracks"]]
    return shown


def main():
    shown = shown_playlists()

    shutil.rmtree(DIST, ignore_errors=True)
    SITE.mkdir(parents=True)
    (SITE / "index.html").write_text(render_page(shown), encoding="utf-8")
    write_archive(SITE, ARCHIVE)
    APK.write_bytes(base64.b64decode(APP.read_text(encoding="ascii")))
    print(f"built {SITE.relative_to(ROOT)}/index.html ({len(shown)} playlists)")
    print(f"built {ARCHIVE.relative_to(ROOT)}")
    print(f"built {APK.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
