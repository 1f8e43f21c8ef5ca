"""Read a repo's `.honk.toml` against its one schema (`honk.domain.RepoConfig`); every problem names
the file, the line and the fix."""

from __future__ import annotations

import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from honk.domain import FROM_FILE, NotAKey, RepoConfig, Wanted, is_valid_branch_name
from honk.errors import InvalidRepoConfig
from honk.verify.detect import detect_verifiers

__all__ = ["CONFIG_FILE", "is_valid_branch_name", "load_repo_config", "parse_repo_config", "problem_at"]

CONFIG_FILE = ".honk.toml"

_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)\s*$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")


def load_repo_config(workspace: Path) -> RepoConfig:
    """The repo's config: from `.honk.toml` when present, else inferred from its contents."""
    path = workspace / CONFIG_FILE
    if not path.is_file():
        return RepoConfig(verify=detect_verifiers(workspace), source="detected")
    if path.is_symlink() and not path.resolve().is_relative_to(workspace.resolve()):
        raise InvalidRepoConfig(f"{CONFIG_FILE} line 1: must not be a link to outside the repo")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRepoConfig(f"{CONFIG_FILE} line 1: the file is not valid UTF-8") from None
    config = parse_repo_config(text)
    verify = config.verify if "verify" in config.model_fields_set else detect_verifiers(workspace)
    return config.model_copy(update={"verify": verify, "source": "file"})


def parse_repo_config(text: str) -> RepoConfig:
    """A `.honk.toml`'s text against the schema (its checks as written: none when it names none); every
    problem names the line and the fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text) from None
    for key in _keys(RepoConfig, honks=True):
        if key in data:
            raise _explain({"type": "extra_forbidden", "loc": (key,), "msg": "", "input": data[key]}, _Lines(text))
    try:
        config = RepoConfig.model_validate(
            data, strict=True, extra="forbid", by_alias=True, by_name=False, context=FROM_FILE
        )
    except ValidationError as exc:
        # One problem at a time, a misspelt key first: it is usually why something else is "missing".
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise _explain(errors[0], _Lines(text)) from None
    return config.model_copy(update={"source": "file"})


def problem_at(workspace: Path, loc: tuple[str | int, ...], problem: str) -> InvalidRepoConfig:
    """A problem found once the file was read — against this server's settings or Honk's store (a
    host beyond the egress ceiling, a secret never set) — said where it was written, as `load_repo_config`
    says its own."""
    path = workspace / CONFIG_FILE
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    table = str(loc[0]) if len(loc) > 1 else None
    index = loc[1] if len(loc) > 2 and isinstance(loc[1], int) else 0
    keys = [part for part in loc[1:] if isinstance(part, str)] if table is not None else [str(p) for p in loc[:1]]
    line = _Lines(text).find(table, index, keys[0] if keys else None)
    return InvalidRepoConfig(f"{CONFIG_FILE} line {line}: {_label(list(loc))} {problem}")


def _explain(error: ErrorDetails, lines: _Lines) -> InvalidRepoConfig:
    """A pydantic error, as the person who wrote the file reads it: where, what, and what is wanted."""
    loc = list(error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] == "honk_config_duplicate":
        loc += [ctx["index"], ctx["key"]]
    table = loc[0] if len(loc) > 1 else None
    index = loc[1] if len(loc) > 2 and isinstance(loc[1], int) else None
    keys = [part for part in loc[1:] if isinstance(part, str)] if table is not None else loc[:1]
    key = keys[0] if keys else None
    label = _label(loc)
    if error["type"] == "extra_forbidden":
        known = ", ".join(_keys(_model_at(loc[:-1])))
        problem = f"unknown key {label} (known keys: {known})"
    elif error["type"] == "missing":
        problem, key = f"{label} is required", None
    elif error["type"] == "honk_config_duplicate":
        problem = f"{label} {error['msg']}"
    elif error["type"] == "honk_config":
        problem = f"{label} {error['msg']} (got {_show(error['input'])})"
    else:
        wanted = _wanted_at(loc)
        said = f"must be {wanted}" if wanted else error["msg"][0].lower() + error["msg"][1:]
        problem = f"{label} {said} (got {_show(error['input'])})"
    line = lines.find(str(table) if table is not None else None, index or 0, str(key) if key is not None else None)
    return InvalidRepoConfig(f"{CONFIG_FILE} line {line}: {problem}")


# -- the schema, walked along an error's location -------------------------------------------------


def _parts(annotation: Any) -> tuple[Any, list[Any]]:
    """An annotation without its Annotated and None wrappers, and the metadata they carried."""
    metadata: list[Any] = []
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            metadata += list(annotation.__metadata__)
            annotation = annotation.__origin__
        elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def _field(model: type[BaseModel], key: str) -> tuple[Any, list[Any]] | None:
    for name, info in model.model_fields.items():
        if (info.validation_alias or name) == key:
            annotation, metadata = _parts(info.rebuild_annotation())
            return annotation, metadata
    return None


def _walk(loc: list[Any]) -> list[tuple[Any, list[Any]]]:
    """The types along a location, from the file down: [(type, metadata), ...]."""
    path: list[tuple[Any, list[Any]]] = [(RepoConfig, [])]
    for part in loc:
        current, _ = path[-1]
        if isinstance(part, int) and typing.get_origin(current) is list:
            path.append(_parts(typing.get_args(current)[0]))
        elif isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            found = _field(current, part)
            if found is None:
                break
            path.append(found)
        else:
            break
    return path


def _model_at(loc: list[Any]) -> type[BaseModel]:
    current, _ = _walk(loc)[-1]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else RepoConfig


def _wanted_at(loc: list[Any]) -> str | None:
    path = _walk(loc)
    if len(path) != len(loc) + 1:
        return None
    current, metadata = path[-1]
    words = [m.words for m in metadata if isinstance(m, Wanted)]
    if words:
        return words[-1]
    return "a table" if isinstance(current, type) and issubclass(current, BaseModel) else None


def _keys(model: type[BaseModel], *, honks: bool = False) -> list[str]:
    """The keys a table of the file may have (or, with `honks`, the fields Honk fills in itself)."""
    keys = []
    for name, info in model.model_fields.items():
        marked = any(isinstance(m, NotAKey) for m in _parts(info.rebuild_annotation())[1])
        if marked == honks:
            keys.append(str(info.validation_alias or name))
    return sorted(keys)


def _label(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> InvalidRepoConfig:
    message = str(exc)
    match = _TOML_POSITION.search(message)
    line = int(match.group(1)) if match and match.group(1) else max(1, len(text.splitlines()))
    problem = _TOML_POSITION.sub("", message) if match else message
    return InvalidRepoConfig(f"{CONFIG_FILE} line {line}: invalid TOML: {problem}")


def _show(value: Any) -> str:
    # Echo values in TOML spelling, since that is what the person wrote.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


class _Lines:
    """Finds where a table or key was written, by a plain scan (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        # Each section: (table name, occurrence index, header line, {key: line}).
        self.sections: list[tuple[str | None, int, int, dict[str, int]]] = [(None, 0, 1, {})]
        seen: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                name = re.sub(r"\s*\.\s*", ".", header.group(2)).replace('"', "").replace("'", "")
                index = seen.get(name, 0)
                seen[name] = index + 1
                self.sections.append((name, index, number, {}))
                continue
            key = re.match(r"""^\s*["']?([A-Za-z0-9_-]+)["']?\s*[.=]""", line)
            if key:
                self.sections[-1][3].setdefault(key.group(1), number)

    def find(self, table: str | None, index: int, key: str | None) -> int:
        own_header = None
        for name, occurrence, header_line, keys in self.sections:
            if name == table and occurrence == index:
                if key in keys:
                    return keys[key]
                own_header = header_line if table is not None else None
        # The key may be a table of its own (`[verfy]`, `[build.extra]`) ...
        nested = key if table is None else f"{table}.{key}"
        for name, _, header_line, _ in self.sections:
            if name == nested:
                return header_line
        if own_header is not None:
            return own_header
        # ... or written inline at the top (`build = { ... }`, `build.run = ...`).
        top_keys = self.sections[0][3]
        return top_keys.get(table or "", top_keys.get(key or "", 1))
