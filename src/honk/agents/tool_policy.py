"""What the coding agent may do with its tools: a pure decision per tool call, with a reason it sees.

The agent edits files inside its workspace and runs the repo's verifiers through Honk's `verify`
tool. Shell access is limited to the commands the repo allow-lists; git that rewrites or leaves
the branch, pushing, and network tools are refused whatever the allow-list says.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VERIFY_TOOL = "mcp__honk__verify"
FILE_TOOLS = {
    "Read": "file_path",
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Glob": "path",
    "Grep": "path",
}
TOOLS = ["Read", "Edit", "Write", "Glob", "Grep", "Bash"]
EDIT_TOOLS = {"Edit", "Write", "MultiEdit", "NotebookEdit"}
PLANNING = (
    "You are planning: nothing may change yet (the workspace is read-only). Put the change in your plan; "
    "once the plan is approved you will make it."
)
READ_ONLY_GIT = {"status", "diff", "log", "show", "blame", "grep", "ls-files", "rev-parse", "shortlog"}
NETWORK = {
    "curl",
    "wget",
    "nc",
    "ncat",
    "netcat",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "ftp",
    "telnet",
    "socat",
    "http",
    "https",
    "aria2c",
    "lynx",
    "w3m",
}
SEPARATORS = re.compile(r"\|\||&&|[;|&\n]")
# git options that run a program, write files, or read outside the work tree.
GIT_RISKY = (
    "--output",
    "--ext-diff",
    "--textconv",
    "-O",
    "--open-files-in-pager",
    "--no-index",
    "--exec",
    "--upload-pack",
    "--receive-pack",
    "--git-dir",
    "--work-tree",
    "-c",
)


@dataclass(frozen=True)
class Decision:
    allow: bool
    reason: str = ""


ALLOW = Decision(True)


def decide(
    tool: str,
    tool_input: dict[str, object],
    workspace: Path,
    allowed_commands: list[str],
    planning: bool = False,
    also: Sequence[Path] = (),
) -> Decision:
    """`planning`: the run proposes a plan and changes nothing, so no edit tool is allowed. `also`: a task
    over several repos' other workspaces, as much the agent's as `workspace` (its working directory)."""
    if planning and tool in EDIT_TOOLS:
        return Decision(False, PLANNING)
    if tool == VERIFY_TOOL:
        return ALLOW
    if tool in FILE_TOOLS:
        return _file_tool(tool, tool_input, workspace, also)
    if tool == "Bash":
        return _bash(str(tool_input.get("command", "")), workspace, allowed_commands, also)
    return Decision(False, f"The {tool} tool is not available in Honk; use Read/Edit/Write/Glob/Grep and verify.")


def _file_tool(tool: str, tool_input: dict[str, object], workspace: Path, also: Sequence[Path] = ()) -> Decision:
    raw = tool_input.get(FILE_TOOLS[tool])
    pattern = str(tool_input.get("pattern", "")) if tool == "Glob" else ""
    if pattern.startswith(("/", "~")) or ".." in Path(pattern).parts:
        return Decision(False, "Glob patterns must stay inside the workspace.")
    if raw in (None, ""):
        return ALLOW  # Glob/Grep default to the workspace
    root = _root_of(str(raw), workspace, also)
    if root is None:
        where = ", ".join(str(p) for p in (workspace, *also))
        return Decision(False, f"{raw} is outside the workspace; only files under {where} may be used.")
    if tool not in ("Read", "Glob", "Grep") and _touches_git(str(raw), workspace, root):
        return Decision(False, "Honk manages git itself; files under .git cannot be changed.")
    return ALLOW


def _touches_git(raw: str, workspace: Path, root: Path) -> bool:
    """`raw` (relative to the working directory, `workspace`) in or at the `.git` of `root`, the workspace
    it lies in."""
    path = Path(raw).expanduser()
    path = path if path.is_absolute() else workspace / path
    resolved = path.resolve()  # a committed symlink to .git counts as .git
    return (
        ".git" in path.parts
        or ".git" in resolved.relative_to(root.resolve()).parts
        or resolved == (root / ".git").resolve()
    )


def _root_of(raw: str, workspace: Path, also: Sequence[Path] = ()) -> Path | None:
    """The workspace `raw` (relative to `workspace`, the working directory) lies in, or None."""
    path = Path(raw).expanduser()
    path = (path if path.is_absolute() else workspace / path).resolve()
    return next((root for root in (workspace, *also) if path.is_relative_to(root.resolve())), None)


def _inside(raw: str, workspace: Path, also: Sequence[Path] = ()) -> bool:
    return _root_of(raw, workspace, also) is not None


def _bash(command: str, workspace: Path, allowed: list[str], also: Sequence[Path] = ()) -> Decision:
    if not command.strip():
        return Decision(False, "Empty command.")
    if "$(" in command or "`" in command or "<(" in command or ">(" in command:
        return Decision(False, "Command substitution is not allowed; run one plain command at a time.")
    for segment in (s.strip() for s in SEPARATORS.split(command)):
        if not segment:
            continue
        verdict = _segment(segment, workspace, allowed, also)
        if not verdict.allow:
            return verdict
    return ALLOW


def _segment(segment: str, workspace: Path, allowed: list[str], also: Sequence[Path] = ()) -> Decision:
    try:
        words = shlex.split(segment)
    except ValueError:
        return Decision(False, f"Cannot parse `{segment}`.")
    if not words:
        return ALLOW
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        # VAR=value before a command can redirect what the command runs (GIT_EXTERNAL_DIFF, LD_PRELOAD…).
        return Decision(False, "Setting environment variables for a command is not allowed.")
    program = Path(words[0]).name
    if program in ("env", "command", "exec", "xargs", "eval", "nohup", "timeout", "nice", "bash", "sh", "zsh"):
        return Decision(False, f"`{program}` runs other commands; run the command itself.")
    if program == "git":
        sub = words[1] if len(words) > 1 else ""
        if sub.startswith("-") or any(w.startswith(GIT_RISKY) for w in words[2:]):
            return Decision(False, "git options that run programs or reach outside the workspace are not allowed.")
        if sub not in READ_ONLY_GIT:
            return Decision(
                False,
                f"`git {sub}` is not allowed: Honk commits, pushes and merges for you; the branch must stay as it is.",
            )
        return ALLOW
    if program in NETWORK or program in ("sudo", "su"):
        return Decision(False, f"`{program}` is not available to the agent (no network, no privilege change).")
    for target in _redirect_targets(segment):
        if not _inside(target, workspace, also):
            return Decision(False, f"Writing to {target} is outside the workspace.")
    if program == "cd":
        return (
            ALLOW
            if len(words) < 2 or _inside(words[1], workspace, also)
            else Decision(False, "cd outside the workspace is not allowed.")
        )
    if any(_matches(segment, words, rule) for rule in allowed):
        return ALLOW
    listed = ", ".join(f"`{a}`" for a in allowed) or "none"
    return Decision(
        False,
        f"`{segment[:80]}` is not an allowed command (allowed: {listed}). "
        "Use the verify tool to run the repo's checks.",
    )


def _matches(segment: str, words: list[str], rule: str) -> bool:
    rule_words = shlex.split(rule)
    return bool(rule_words) and words[: len(rule_words)] == rule_words or segment == rule


def _redirect_targets(segment: str) -> list[str]:
    targets = []
    for m in re.finditer(r"\d?>>?\s*(\"[^\"]*\"|'[^']*'|[^\s;&|]+)", segment):
        raw = m.group(1)
        if raw.startswith("&"):
            continue
        try:
            targets.append(shlex.split(raw)[0] if raw.strip("\"'") else raw)
        except (ValueError, IndexError):
            targets.append("/")  # unparseable: treat as outside
    return targets
