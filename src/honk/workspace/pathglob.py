"""Path globs as a campaign's "repos whose files match" selector writes them: `*` and `?` stay within one
directory, `**` as a whole segment crosses directories (zero or more of them), `[...]` is a character class
as fnmatch reads it (`[!...]` negates). `**` inside a segment (`a**b`) is two `*`s, as in .gitignore.

The matcher is pure and never backtracks without bound: a glob is hostile input (a Slack message), so the
classic greedy wildcard algorithm runs at two levels (segments, then characters within a segment), which is
O(len(glob) x len(path)) at worst instead of the exponential time a translated regular expression can take.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class _Class:
    raw: str  # the bracket expression as written, e.g. "[!a-c]"

    def matches(self, ch: str) -> bool:
        return _class_regex(self.raw).match(ch) is not None


_STAR, _ANY, _DOUBLE_STAR = "*", "?", "**"
_Token = str | _Class  # a literal character, _STAR, _ANY or a class


@lru_cache(maxsize=256)
def _class_regex(raw: str) -> re.Pattern[str]:
    # fnmatch's own translation of one bracket expression: the class means exactly what fnmatch says.
    return re.compile(fnmatch.translate(raw))


def _segment_tokens(segment: str) -> tuple[_Token, ...]:
    """A segment's pattern as tokens; literal characters are one-character strings."""
    tokens: list[_Token] = []
    i, n = 0, len(segment)
    while i < n:
        ch = segment[i]
        i += 1
        if ch == "*":
            if not (tokens and _star(tokens[-1])):
                tokens.append(_STAR)  # runs of stars are one star
        elif ch == "?":
            tokens.append(_ANY)
        elif ch == "[":
            # fnmatch's rule for where a class ends: a leading "!" and then a leading "]" are part of it.
            j = i
            if j < n and segment[j] == "!":
                j += 1
            if j < n and segment[j] == "]":
                j += 1
            while j < n and segment[j] != "]":
                j += 1
            if j >= n:
                tokens.append("[")  # unclosed: a literal bracket, as fnmatch reads it
            else:
                tokens.append(_Class(segment[i - 1 : j + 1]))
                i = j + 1
        else:
            tokens.append(ch)
    return tuple(tokens)


def _star(token: _Token) -> bool:
    return not isinstance(token, _Class) and token == _STAR


def _one(token: _Token, ch: str) -> bool:
    if isinstance(token, _Class):
        return token.matches(ch)
    return token in (_ANY, ch)


def segment_match(tokens: tuple[_Token, ...], name: str) -> bool:
    """Greedy wildcard matching: on a mismatch, only the last star seen takes one more character. Correct
    because a later star can absorb anything an earlier one could have (all characters are alike to it)."""
    ti = si = 0
    star_ti, star_si = -1, 0
    while si < len(name):
        if ti < len(tokens) and _star(tokens[ti]):
            star_ti, star_si = ti, si
            ti += 1
        elif ti < len(tokens) and _one(tokens[ti], name[si]):
            ti += 1
            si += 1
        elif star_ti >= 0:
            star_si += 1
            ti, si = star_ti + 1, star_si
        else:
            return False
    while ti < len(tokens) and _star(tokens[ti]):
        ti += 1
    return ti == len(tokens)


@dataclass(frozen=True)
class PathGlob:
    """A compiled glob: each segment `**` or a segment's tokens."""

    pattern: str
    segments: tuple[str | tuple[_Token, ...], ...]

    def matches(self, path: str) -> bool:
        """The same greedy algorithm one level up: `**` is the star, a path segment the character."""
        parts = path.split("/")
        pi = si = 0
        star_pi, star_si = -1, 0
        segs = self.segments
        while si < len(parts):
            if pi < len(segs) and segs[pi] == _DOUBLE_STAR:
                star_pi, star_si = pi, si
                pi += 1
            elif pi < len(segs) and segment_match(_tokens(segs[pi]), parts[si]):
                pi += 1
                si += 1
            elif star_pi >= 0:
                star_si += 1
                pi, si = star_pi + 1, star_si
            else:
                return False
        while pi < len(segs) and segs[pi] == _DOUBLE_STAR:
            pi += 1
        return pi == len(segs)


def _tokens(segment: str | tuple[_Token, ...]) -> tuple[_Token, ...]:
    assert not isinstance(segment, str)  # only "**" is kept as a string
    return segment


def compile_glob(pattern: str) -> PathGlob:
    segments: list[str | tuple[_Token, ...]] = []
    for part in pattern.split("/"):
        if part == _DOUBLE_STAR:
            if not segments or segments[-1] != _DOUBLE_STAR:  # "**/**" is one "**"
                segments.append(_DOUBLE_STAR)
        else:
            segments.append(_segment_tokens(part))
    return PathGlob(pattern, tuple(segments))


def glob_match(pattern: str, path: str) -> bool:
    """Whether the repo-relative `path` (slash-separated, as git lists it) matches `pattern`."""
    return compile_glob(pattern).matches(path)
