"""Real, small Android packages for tests: a resource-only APK built by Debian's `aapt` against the
framework's resources, signed by `apksigner` with a key the JDK's `keytool` made. No Android SDK.

A missing tool fails the test that needs it, naming the command that installs it (deploy/system-packages
installs them for `make test`): a delivery test that silently skipped would prove nothing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
PACKAGES = "aapt apksigner android-framework-res default-jdk-headless"
INSTALL = f"apt-get install -y {PACKAGES}  (or: deploy/system-packages test)"
STOREPASS = "honk-test-pass"


def missing_tools() -> list[str]:
    """What of the tool chain is not installed here (empty when all of it is)."""
    missing = [tool for tool in ("aapt", "apksigner", "keytool") if shutil.which(tool) is None]
    return missing + ([str(FRAMEWORK_RES)] if not FRAMEWORK_RES.is_file() else [])


@dataclass(frozen=True)
class Keystore:
    path: Path
    alias: str
    certificate_sha256: str  # of the signing certificate (DER), as apksigner prints it


def make_keystore(where: Path, alias: str = "honk") -> Keystore:
    """A fresh RSA key and self-signed certificate, as a developer's debug keystore is made."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{alias}.jks"
    store = ["-keystore", str(path), "-alias", alias, "-storepass", STOREPASS]
    _run(
        ["keytool", "-genkeypair", *store, "-keypass", STOREPASS, "-keyalg", "RSA", "-keysize", "2048"]
        + ["-validity", "365", "-dname", f"CN=Honk test {alias}"]
    )
    der = subprocess.run(["keytool", "-exportcert", *store], check=True, capture_output=True, timeout=60).stdout
    return Keystore(path, alias, hashlib.sha256(der).hexdigest())


@dataclass(frozen=True)
class AppSpec:
    package: str = "dev.honk.sample"
    version_code: int = 42
    version_name: str = "1.4.2"
    label: str = "Honk Sample"
    icon_png: bytes | None = None


def build_apk(where: Path, spec: AppSpec, keystore: Keystore | None, name: str = "app.apk") -> Path:
    """`where/name`: the app `spec` describes, resource only (no code), signed with `keystore` unless None."""
    src = where / f"{name}.src"
    (src / "res" / "values").mkdir(parents=True, exist_ok=True)
    icon = ""
    if spec.icon_png is not None:
        (src / "res" / "drawable").mkdir(exist_ok=True)
        (src / "res" / "drawable" / "icon.png").write_bytes(spec.icon_png)
        icon = ' android:icon="@drawable/icon"'
    (src / "AndroidManifest.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<manifest xmlns:android="http://schemas.android.com/apk/res/android" '
        f'package="{spec.package}" android:versionCode="{spec.version_code}" android:versionName="{spec.version_name}">\n'
        '  <uses-sdk android:minSdkVersion="24" android:targetSdkVersion="33"/>\n'
        f'  <application android:label="@string/app_name"{icon} android:hasCode="false"/>\n'
        "</manifest>\n"
    )
    (src / "res" / "values" / "strings.xml").write_text(
        f'<resources><string name="app_name">{spec.label}</string></resources>\n'
    )
    unsigned = where / f"{name}.unsigned"
    # --no-crunch: the icon goes in as it was written, so a test can compare its bytes.
    _run(
        ["aapt", "package", "-f", "--no-crunch", "-M", str(src / "AndroidManifest.xml"), "-S", str(src / "res")]
        + ["-I", str(FRAMEWORK_RES), "-F", str(unsigned)]
    )
    out = where / name
    if keystore is None:
        unsigned.replace(out)
        return out
    _run(
        ["apksigner", "sign", "--ks", str(keystore.path), "--ks-key-alias", keystore.alias]
        + ["--ks-pass", f"pass:{STOREPASS}", "--v4-signing-enabled", "false", "--out", str(out), str(unsigned)]
    )
    unsigned.unlink()
    return out


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
