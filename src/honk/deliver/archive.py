"""Opening an APK or an `.ipa` (both zip archives a task's build made, so hostile input) with bounded
reads: the archive's own end records are checked before `zipfile` reads its directory (millions of
entries would cost gigabytes of memory), every name is checked (no path leaving the archive, no name
twice: what Honk reads must be what the phone installs), and a member is read only up to a cap, only
when stored or deflated (`zipfile` inflates deflate in bounded steps; bzip2 and lzma it does not)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MAX_ENTRIES = 200_000  # large apps have tens of thousands of files
MAX_DIRECTORY_BYTES = 64 * 1024 * 1024
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_LOCAL_HEADER = b"PK\x03\x04"
_READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ArchiveProblem(Exception):
    """Why an archive cannot be read, in words for the person whose build made it."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Archive:
    """An archive that passed the checks above: its members by name, its central directory's offset."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, directory_offset: int) -> None:
        self.path, self.zip, self.directory_offset = path, zf, directory_offset

    def names(self) -> list[str]:
        return self.zip.namelist()

    def member(self, name: str) -> zipfile.ZipInfo | None:
        try:
            return self.zip.getinfo(name)
        except KeyError:
            return None

    def read(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """The member's bytes, refused past `cap` (declared or actual) or when they do not check out."""
        what = f"{self.path.name}: {info.filename}"
        if info.file_size > cap:
            raise ArchiveProblem(f"{what} is {info.file_size:,} bytes, more than Honk reads ({cap:,}).")
        if info.compress_type not in _READABLE:
            raise ArchiveProblem(
                f"{what} is compressed with a method phones do not read (zip method {info.compress_type})."
            )
        try:
            with self.zip.open(info) as f:
                data = f.read(cap + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as e:
            raise ArchiveProblem(f"{what} is corrupt ({e}).") from None
        if len(data) > cap:
            raise ArchiveProblem(f"{what} is more than {cap:,} bytes once unpacked, more than Honk reads.")
        return data

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(path: Path, kind: str) -> Archive:
    """`path` opened as a zip archive, or ArchiveProblem saying why not (`kind`: "APK", ".ipa")."""
    if not path.is_file():
        raise ArchiveProblem(f"The build left no file {path.name}: check the build's `artifacts` in .honk.toml.")
    size = path.stat().st_size
    if size == 0:
        raise ArchiveProblem(f"{path.name} is empty: the build wrote no {kind} into it.")
    entries, directory_size, directory_offset = _end_records(path, size, kind)
    if entries > MAX_ENTRIES or directory_size > MAX_DIRECTORY_BYTES:
        raise ArchiveProblem(
            f"{path.name} lists {entries:,} files, more than Honk reads in an {kind} ({MAX_ENTRIES:,})."
        )
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as e:
        raise ArchiveProblem(f"{path.name} is not a readable {kind}: its zip directory is corrupt ({e}).") from None
    seen: set[str] = set()
    for name in zf.namelist():
        why = _bad_name(name)
        if why is None and name in seen:
            why = "appears twice"
        if why is not None:
            zf.close()
            raise ArchiveProblem(
                f"{path.name} contains a file named {name[:200]!r} that {why}; Honk does not deliver it."
            )
        seen.add(name)
    return Archive(path, zf, directory_offset)


def _bad_name(name: str) -> str | None:
    if "\x00" in name or "\\" in name:
        return "is not a plain path"
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (parts and parts[0].endswith(":")):
        return "is an absolute path"
    if ".." in parts:
        return "points outside the archive"
    return None


def _end_records(path: Path, size: int, kind: str) -> tuple[int, int, int]:
    """(entries, central directory size, its offset) from the end-of-archive records (zip64 too)."""
    with open(path, "rb") as f:
        head = f.read(4)
        tail_start = max(0, size - _EOCD_SIZE - 0xFFFF)
        f.seek(tail_start)
        tail = f.read()
        at = tail.rfind(_EOCD)
        if at < 0 or len(tail) - at < _EOCD_SIZE:
            if head == _LOCAL_HEADER:
                raise ArchiveProblem(
                    f"{path.name} was cut short: it begins as a zip archive but has no end (a truncated {kind})."
                )
            raise ArchiveProblem(f"{path.name} is not an {kind}: it is not a zip archive.")
        _, _, entries, directory_size, directory_offset, _ = struct.unpack("<4s4xHHIIH", tail[at : at + _EOCD_SIZE])
        eocd = tail_start + at
        if entries == 0xFFFF or 0xFFFFFFFF in (directory_size, directory_offset):
            locator = eocd - 20
            if locator < 0:
                raise ArchiveProblem(f"{path.name} is a corrupt {kind}: its zip64 end record is missing.")
            f.seek(locator)
            sig, _, record, _ = struct.unpack("<4sIQI", f.read(20))
            if sig != _ZIP64_LOCATOR or record + 56 > size:
                raise ArchiveProblem(f"{path.name} is a corrupt {kind}: its zip64 end record is missing.")
            f.seek(record)
            data = f.read(56)
            if data[:4] != _ZIP64_EOCD:
                raise ArchiveProblem(f"{path.name} is a corrupt {kind}: its zip64 end record is missing.")
            _, entries, directory_size, directory_offset = struct.unpack("<24xQQQQ", data)
            eocd = record
    if directory_offset + directory_size > eocd:
        raise ArchiveProblem(f"{path.name} was cut short or is corrupt: its file list lies past its end.")
    return entries, directory_size, directory_offset
