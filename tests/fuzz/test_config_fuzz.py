"""Hypothesis on `.honk.toml`: any file Honk reads either loads or gets one message in Honk's words,
naming a line of the file; nothing reaches the person as a pydantic error or a traceback.

Files are built from the schema's own keys (and misspellings of them), with values of every TOML
type, written both as inline tables and as `[table]` / `[[array]]` sections. Seeded and derandomized.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honk.errors import InvalidRepoConfig
from honk.verify.config import load_repo_config

FAST = settings(
    max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

TOP = ["setup", "setup_timeout", "setup_network", "max_rounds", "queue"]
TABLES = {
    "verify": ["name", "run", "timeout"],
    "build": ["run", "artifacts", "preview", "timeout"],
    "merge": ["target", "mode"],
    "agent": ["name", "model", "command", "scenario", "timeout", "allow", "max_turns", "max_cost_usd"],
    "network": ["setup", "agent", "check", "build", "preview", "deliver", "deploy"],
    "secrets": ["name", "phases", "hosts", "header", "template", "env"],
    "deploy": ["run", "wait_for", "health", "health_timeout", "timeout", "url", "revert"],
}
# Keys a person might write that are not in the file's schema (misspelt, or Honk's own fields).
STRAYS = {None: ["source", "merge_target", "verfy"], "verify": ["timout"], "build": ["extra"], "merge": ["branch"]}
STRINGS = ["", " ", "t", "main", "a..b", "../x", "/abs", "x {prompt}", "pypi.org", "fast-forward", "Unit Tests"]
STRINGS += ["pypi", "*.example.com", "10.0.0.1", "setup", "agent", "NPM_TOKEN", "Authorization", "Bearer {secret}"]
STRINGS += ["status:deploy/production", "deployment:", "https://app.example.com/up", "http://169.254.169.254/"]
STRINGS += ["https://u:p@a.example.com:99999/", "fast-track", "task"]

scalars = st.one_of(
    st.sampled_from(STRINGS),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.integers(min_value=-3, max_value=60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3))


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's string escapes are TOML's basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise AssertionError(value)


@st.composite
def files(draw: st.DrawFn) -> str:
    def keys(table: str | None, known: list[str]) -> list[str]:
        chosen = draw(st.lists(st.sampled_from(known), unique=True, max_size=4))
        stray = STRAYS.get(table, [])
        return chosen + ([draw(st.sampled_from(stray))] if stray and draw(st.integers(0, 9)) == 0 else [])

    lines: list[str] = []
    for key in keys(None, TOP):
        lines.append(f"{key} = {toml_value(draw(values))}")
    sections: list[str] = []
    for table in draw(st.lists(st.sampled_from(sorted(TABLES)), unique=True, max_size=4)):
        entries = [
            {k: draw(values) for k in keys(table, TABLES[table])}
            for _ in range(draw(st.integers(min_value=1, max_value=2)) if table == "verify" else 1)
        ]
        if table == "verify" and draw(st.booleans()):
            for entry in entries:
                sections += ["", "[[verify]]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
        elif table != "verify" and draw(st.booleans()):
            sections += ["", f"[{table}]"] + [f"{k} = {toml_value(v)}" for k, v in entries[0].items()]
        else:
            whole = entries if table == "verify" else entries[0]
            lines.append(f"{table} = {toml_value(whole)}")
    return "\n".join(lines + sections) + "\n"


@FAST
@given(text=files())
def test_any_file_loads_or_gets_one_message_in_honks_words(tmp_path_factory, text: str) -> None:
    repo: Path = tmp_path_factory.mktemp("repo")
    (repo / ".honk.toml").write_text(text)
    try:
        config = load_repo_config(repo)
    except InvalidRepoConfig as exc:
        message = str(exc)
        found = re.match(r"^\.honk\.toml line (\d+): (.+)$", message, re.DOTALL)
        assert found, message
        assert 1 <= int(found.group(1)) <= max(1, len(text.splitlines())), (message, text)
        # Pydantic's own phrasing means a field without words for what it must be.
        assert "Input should" not in message and "input should" not in message, (message, text)
        assert "Field required" not in message, (message, text)
        return
    assert config.source == "file"
