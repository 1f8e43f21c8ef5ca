"""Read and validate a repo's `.honk.toml`; every problem names the file, the line and the fix."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from honk.domain import AgentSettings, BuildSpec, RepoConfig, VerifyCommand
from honk.errors import InvalidRepoConfig
from honk.verify.detect import detect_verifiers

CONFIG_FILE = ".honk.toml"

_TOP_KEYS = {"setup", "setup_timeout", "setup_network", "max_rounds", "queue", "verify", "build", "merge", "agent"}
_VERIFY_KEYS = {"name", "run", "timeout"}
_BUILD_KEYS = {"run", "artifacts", "preview", "timeout"}
_MERGE_KEYS = {"target", "mode"}
_AGENT_KEYS = {"name", "model", "command", "scenario", "timeout", "allow", "max_turns", "max_cost_usd"}
_CHECK_NAME = re.compile(r"[a-z0-9_-]+")
_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)\s*$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
# `git check-ref-format` rules, applied to `refs/heads/<name>`.
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


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
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text) from None
    return _Parser(text).config(data, workspace)


def is_valid_branch_name(name: str) -> bool:
    """What `git check-ref-format --branch` accepts, without needing git or a repository."""
    if not name or name.startswith("-") or name == "HEAD" or name == "@":
        return False
    if _BAD_REF_CHARS.search(name) or ".." in name or "@{" in name or "//" in name:
        return False
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


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


class _Parser:
    def __init__(self, text: str) -> None:
        self.lines = _Lines(text)

    def fail(self, table: str | None, index: int | None, key: str | None, problem: str) -> NoReturn:
        line = self.lines.find(table, index or 0, key)
        raise InvalidRepoConfig(f"{CONFIG_FILE} line {line}: {problem}")

    def bad(self, table: str | None, index: int | None, key: str, wanted: str, value: Any) -> NoReturn:
        self.fail(table, index, key, f"{_label(table, index, key)} must be {wanted} (got {_show(value)})")

    def table(self, data: Any, table: str | None, allowed: set[str], index: int | None = None) -> dict:
        if not isinstance(data, dict):
            label = f"{table}[{index}]" if index is not None else table
            self.fail(None, None, table, f"{label} must be a table (got {_show(data)})")
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.fail(table, index, key, f"unknown key {_label(table, index, key)} (known keys: {known})")
        return data

    def text(self, tbl: dict, table: str | None, key: str, index: int | None = None, required: bool = False) -> Any:
        value = tbl.get(key)
        if value is None and required:
            self.fail(table, index, None, f"{_label(table, index, key)} is required")
        if value is not None and (not isinstance(value, str) or not value.strip()):
            self.bad(table, index, key, "a non-empty string", value)
        return value

    def seconds(self, tbl: dict, table: str | None, key: str, default: float, index: int | None = None) -> float:
        value = tbl.get(key, default)
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            self.bad(table, index, key, "a positive number", value)
        return float(value)

    def path(self, value: Any, table: str, key: str, label: str) -> str:
        # Absolute, home-relative, drive-letter and `..` paths could reach outside the checkout.
        escapes = not isinstance(value, str) or re.match(r"^([/\\~]|[A-Za-z]:)", value)
        if escapes or not value.strip() or ".." in re.split(r"[/\\]", value):
            problem = f"{label} must be a relative path inside the repo (got {_show(value)})"
            self.fail(table, None, key, problem)
        return value

    def config(self, data: dict, workspace: Path) -> RepoConfig:
        self.table(data, None, _TOP_KEYS)
        rounds = data.get("max_rounds")
        if rounds is not None and (type(rounds) is not int or not 1 <= rounds <= 50):
            self.bad(None, None, "max_rounds", "a whole number from 1 to 50", rounds)
        return RepoConfig(
            verify=self.verify(data["verify"]) if "verify" in data else detect_verifiers(workspace),
            build=self.build(data["build"]) if "build" in data else None,
            setup=self.text(data, None, "setup"),
            setup_timeout_s=self.seconds(data, None, "setup_timeout", 900.0),
            setup_network=self.hosts(data.get("setup_network", [])),
            max_rounds=rounds,
            queue=self.queue(data.get("queue")),
            agent=self.agent(data.get("agent", {})),
            source="file",
            **self.merge(data.get("merge", {})),
        )

    def verify(self, entries: Any) -> list[VerifyCommand]:
        if not isinstance(entries, list):
            self.bad(None, None, "verify", "an array of tables, written [[verify]]", entries)
        commands: list[VerifyCommand] = []
        for i, entry in enumerate(entries):
            tbl = self.table(entry, "verify", _VERIFY_KEYS, i)
            name = self.text(tbl, "verify", "name", i, required=True)
            if not _CHECK_NAME.fullmatch(name):
                self.bad("verify", i, "name", "made of a-z, 0-9, _ and - only", name)
            for j, earlier in enumerate(commands):
                if earlier.name == name:
                    problem = f"verify[{i}].name {_show(name)} is already used by verify[{j}]"
                    self.fail("verify", i, "name", problem)
            run = self.text(tbl, "verify", "run", i, required=True)
            timeout = self.seconds(tbl, "verify", "timeout", 600.0, i)
            commands.append(VerifyCommand(name=name, run=run, timeout_s=timeout))
        return commands

    def build(self, data: Any) -> BuildSpec:
        tbl = self.table(data, "build", _BUILD_KEYS)
        artifacts = tbl.get("artifacts", [])
        if not isinstance(artifacts, list):
            self.bad("build", None, "artifacts", "an array of globs", artifacts)
        preview = tbl.get("preview")
        return BuildSpec(
            run=self.text(tbl, "build", "run", required=True),
            artifacts=[
                self.path(glob, "build", "artifacts", f"build.artifacts[{i}]") for i, glob in enumerate(artifacts)
            ],
            preview_dir=None if preview is None else self.path(preview, "build", "preview", "build.preview"),
            timeout_s=self.seconds(tbl, "build", "timeout", 900.0),
        )

    def merge(self, data: Any) -> dict[str, Any]:
        tbl = self.table(data, "merge", _MERGE_KEYS)
        out: dict[str, Any] = {}
        target = self.text(tbl, "merge", "target")
        if target is not None:
            if not is_valid_branch_name(target):
                self.bad("merge", None, "target", "a valid git branch name", target)
            out["merge_target"] = target
        mode = tbl.get("mode", "merge")
        if mode not in ("merge", "fast-forward"):
            self.bad("merge", None, "mode", '"merge" or "fast-forward"', mode)
        out["merge_mode"] = mode
        return out

    def agent(self, data: Any) -> AgentSettings:
        tbl = self.table(data, "agent", _AGENT_KEYS)
        command = self.text(tbl, "agent", "command")
        if command is not None and "{prompt}" not in command:
            problem = "agent.command must contain {prompt}, where the instructions go"
            self.fail("agent", None, "command", problem)
        scenario = tbl.get("scenario")
        return AgentSettings(
            name=self.text(tbl, "agent", "name"),
            model=self.text(tbl, "agent", "model"),
            command=command,
            scenario=None if scenario is None else self.path(scenario, "agent", "scenario", "agent.scenario"),
            timeout_s=None if "timeout" not in tbl else self.seconds(tbl, "agent", "timeout", 0),
            allow=self.commands(tbl.get("allow", [])),
            max_turns=self.whole(tbl, "agent", "max_turns"),
            max_cost_usd=None if "max_cost_usd" not in tbl else self.seconds(tbl, "agent", "max_cost_usd", 0),
        )

    def commands(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.bad("agent", None, "allow", "a list of command prefixes", value)
        return [v.strip() for v in value]

    def queue(self, value: Any) -> str | None:
        if value is not None and (not isinstance(value, str) or not _QUEUE.fullmatch(value)):
            self.bad(None, None, "queue", "a task queue name (letters, digits, '.', '_', '-')", value)
        return value

    def hosts(self, value: Any) -> list[str]:
        """Hosts the setup phase may reach (dependency installs); every other phase has no network."""
        if not isinstance(value, list) or not all(isinstance(v, str) and _HOST.fullmatch(v) for v in value):
            self.bad(None, None, "setup_network", 'a list of host names, like ["pypi.org"]', value)
        return [v.lower() for v in value]

    def whole(self, tbl: dict, table: str, key: str) -> int | None:
        value = tbl.get(key)
        if value is not None and (type(value) is not int or value < 1):
            self.bad(table, None, key, "a whole number of at least 1", value)
        return value


_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")


def _label(table: str | None, index: int | None, key: str) -> str:
    if table is None:
        return key
    return f"{table}[{index}].{key}" if index is not None else f"{table}.{key}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
