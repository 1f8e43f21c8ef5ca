"""The path glob of a campaign's files selector: `*` within a directory, `**` across, classes as fnmatch's,
checked against a slow obvious definition, and bounded in time on hostile globs."""

from __future__ import annotations

import fnmatch
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from honk.workspace.pathglob import glob_match


def reference(pattern: str, path: str) -> bool:
    """The definition, directly: `**` takes zero or more whole segments; any other segment is fnmatch's on
    exactly one path segment (so its `*` cannot cross a `/`). Exponential, fine for tiny inputs."""

    def match(psegs: list[str], parts: list[str]) -> bool:
        if not psegs:
            return not parts
        if psegs[0] == "**":
            return match(psegs[1:], parts) or (bool(parts) and match(psegs, parts[1:]))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], psegs[0]) and match(psegs[1:], parts[1:])

    return match(pattern.split("/"), path.split("/"))


PATTERN = st.text(alphabet="ab*?/[]!-.", max_size=12)
SEGMENT = st.text(alphabet="ab[]!-*?.", min_size=1, max_size=4)
PATH = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)


@settings(max_examples=1500, deadline=None)
@given(PATTERN, PATH)
def test_the_matcher_agrees_with_the_definition(pattern: str, path: str) -> None:
    assert glob_match(pattern, path) == reference(pattern, path)


ONE_SEGMENT = (
    st.lists(st.sampled_from(["*", "?", "a", "b", "[ab]", "[!a]"]), min_size=1, max_size=6)
    .map("".join)
    .filter(lambda s: s != "**")  # the one segment that is `**` proper
)


@given(ONE_SEGMENT, PATH)
def test_a_glob_without_double_star_never_crosses_a_directory(segment: str, path: str) -> None:
    if glob_match(segment, path):
        assert "/" not in path
    if glob_match(f"x/{segment}", path):
        assert path.count("/") == 1 and path.startswith("x/")


@given(st.lists(SEGMENT, max_size=5), SEGMENT)
def test_double_star_reaches_a_name_at_any_depth(dirs: list[str], name: str) -> None:
    path = "/".join([*dirs, name])
    assert glob_match("**/" + name.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]"), path)
    assert glob_match("**", path)


def test_the_cases_a_campaign_writes() -> None:
    assert glob_match("**/*.py", "setup.py") and glob_match("**/*.py", "src/a/b.py")
    assert not glob_match("*.py", "src/b.py") and glob_match("*.py", "setup.py")
    assert glob_match("requirements*.txt", "requirements-dev.txt") and not glob_match("requirements*.txt", "a/r.txt")
    assert glob_match("src/**", "src/a/b/c") and not glob_match("src/**", "lib/a")
    assert glob_match("a/**/b", "a/b") and glob_match("a/**/b", "a/x/y/b") and not glob_match("a/**/b", "a/x/c")
    assert glob_match("go.mod", "go.mod") and not glob_match("go.mod", "x/go.mod")
    assert glob_match("a**b.py", "axxb.py") and not glob_match("a**b.py", "ax/xb.py")  # `**` inside: two `*`s


def test_a_hostile_glob_is_matched_in_bounded_time() -> None:
    # As a regular expression, `*a*a…*b` against "aaaa…" backtracks for ever; the greedy matcher does not.
    started = time.perf_counter()
    assert not glob_match("*a" * 200 + "b", "a" * 250)
    assert not glob_match("**/" * 100 + "*a" * 100 + "b", "/".join(["a" * 50] * 40))
    assert time.perf_counter() - started < 2
