"""Where a delivered file and what its install page shows are kept: beside the build's own copy of the
artifact (`<artifacts>/<task>/<name>`), in `<artifacts>/<task>/.delivered/` (`<name>.json`, `<name>.png`).
A rebuild replaces the task's artifacts directory, and so what was delivered from the older build goes
with it. Names come from signed links but are checked all the same: no path leaves the task's area."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from honk.domain import ANDROID_APK, IOS_OTA, ApkRead, DeliveredApp, IosApp

DELIVERED = ".delivered"
CHUNK = 1024 * 1024
MAX_READ_BYTES = 2 * 1024 * 1024  # a record or an icon (icons are at most 1 MB when read from the app)


def file_digest(path: Path) -> tuple[int, str]:
    """The file's size and SHA-256 (hex), read in chunks: artifacts can be hundreds of MB."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def described_apk(task_id: str, path: Path, read: ApkRead) -> DeliveredApp:
    size, sha256 = file_digest(path)
    app = read.app
    return DeliveredApp(
        task_id=task_id,
        name=path.name,
        kind=ANDROID_APK,
        title=app.label,
        version=app.version_name,
        build=str(app.version_code),
        size=size,
        sha256=sha256,
        bundle_id=app.package,
        signature=read.signature,
    )


def described_ipa(task_id: str, path: Path, app: IosApp) -> DeliveredApp:
    size, sha256 = file_digest(path)
    return DeliveredApp(
        task_id=task_id,
        name=path.name,
        kind=IOS_OTA,
        title=app.title,
        version=app.version,
        build=app.build,
        size=size,
        sha256=sha256,
        bundle_id=app.bundle_id,
    )


def _plain(part: str) -> bool:
    return bool(part) and len(part) <= 255 and not part.startswith(".") and not any(c in part for c in "/\\\x00")


class DeliveryShelf:
    def __init__(self, artifacts: Path) -> None:
        self.root = artifacts

    def file(self, task_id: str, name: str) -> Path | None:
        """The delivered file itself: a regular file (not a link) in the task's area, else None."""
        if not (_plain(task_id) and _plain(name)):
            return None
        path = self.root / task_id / name
        try:
            return path if path.is_file() and not path.is_symlink() else None
        except OSError:
            return None

    def put(self, app: DeliveredApp, icon_png: bytes | None = None) -> None:
        """Keeps what the install page of `app.name` shows (the file is already in place)."""
        if not (_plain(app.task_id) and _plain(app.name)):
            raise ValueError(f"not a plain task id and file name: {app.task_id!r}, {app.name!r}")
        where = self.root / app.task_id / DELIVERED
        where.mkdir(parents=True, exist_ok=True)
        if icon_png:
            _write(where / f"{app.name}.png", icon_png)
        _write(where / f"{app.name}.json", app.model_dump_json().encode())

    def get(self, task_id: str, name: str) -> DeliveredApp | None:
        """What was delivered as `name` for `task_id`, or None (never delivered, or rebuilt since)."""
        data = self._read(task_id, f"{name}.json", name)
        if data is None:
            return None
        try:
            return DeliveredApp.model_validate_json(data)
        except ValidationError:
            return None

    def icon(self, task_id: str, name: str) -> bytes | None:
        return self._read(task_id, f"{name}.png", name)

    def _read(self, task_id: str, leaf: str, name: str) -> bytes | None:
        if not (_plain(task_id) and _plain(name)):
            return None
        path = self.root / task_id / DELIVERED / leaf
        try:
            if path.is_symlink() or path.stat().st_size > MAX_READ_BYTES:
                return None
            return path.read_bytes()
        except OSError:
            return None


def _write(path: Path, data: bytes) -> None:
    # Whole or not at all: the web server may read it while a worker writes it.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
