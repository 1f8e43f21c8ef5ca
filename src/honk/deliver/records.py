"""What delivering to a phone speaks: the app read from an artifact, its signature check, why an artifact
is refused, and what a signed artifact link grants. (Kept here while delivery is being wired in; they
belong in honk.domain once the workflow carries them.)"""

from __future__ import annotations

from honk.domain import Carried, Record

# Delivery kinds this package serves itself (the `[deliver] kind` of .honk.toml).
ANDROID_APK = "android-apk"
IOS_OTA = "ios-ota"


class DeliveryRefused(Carried):
    """Why an artifact cannot be delivered, said to the person who asked for the change: what is wrong
    and, where it helps, what to do."""

    why: str


class SignatureCheck(Carried):
    """What checking an APK's signature found. `checked`: apksigner ran and gave a verdict; when it did
    not (not installed here, timed out), `why` says so and `verified` is False."""

    checked: bool
    verified: bool
    signer_sha256: str | None = None  # the first signer's certificate, SHA-256, lowercase hex
    schemes: list[str] = []  # the signature schemes apksigner verified: "v1", "v2", "v3", "v4"
    why: str = ""


class AndroidApp(Carried):
    """An APK's identity, from its binary manifest and resources."""

    package: str
    version_name: str
    version_code: int
    label: str
    has_icon: bool = False


class ApkRead(Record):
    """What reading an APK gave: the app, and its launcher icon when it is a PNG (kept beside the file,
    never carried in workflow history)."""

    app: AndroidApp
    icon_png: bytes | None = None
    signed_with: list[str] = []  # the signature schemes present in the file (present, not verified)
    signature: SignatureCheck | None = None  # what apksigner said, once asked


class IosApp(Carried):
    """An `.ipa`'s identity, from `Payload/<name>.app/Info.plist`."""

    bundle_id: str
    version: str  # CFBundleShortVersionString
    build: str  # CFBundleVersion
    title: str  # CFBundleDisplayName, else CFBundleName


class DeliveredApp(Carried):
    """What the install page shows about one delivered file of a task."""

    task_id: str
    name: str  # the file's name among the task's artifacts
    kind: str  # ANDROID_APK or IOS_OTA
    title: str
    version: str
    build: str
    size: int
    sha256: str
    bundle_id: str = ""  # iOS: what manifest.plist names (Android: the package)
    signature: SignatureCheck | None = None  # Android only


class ArtifactGrant(Record):
    """A valid artifact link: which task's file it opens, and until when."""

    task_id: str
    name: str
    digest: str  # the start of the file's SHA-256 when the link was made
    expires: float  # seconds since the epoch


class ArtifactLinkRefused(Record):
    """Why an artifact link does not open its file, said to whoever holds it."""

    why: str
