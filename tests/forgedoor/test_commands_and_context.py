"""What a comment that mentions Honk asks (honk.forgedoor.commands), and the issue or pull request quoted as
the request's context (honk.forgedoor.context): pure functions, on chosen examples and fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from honk.domain import MAX_FORGE_TEXT, MAX_REQUEST_CHARS, MAX_THREAD_COMMENTS, MAX_URL_CHARS, Discussion, ThreadComment
from honk.forgedoor.commands import Ask, Autofix, ReviewIt, Stop, command
from honk.forgedoor.context import MAX_CHARS, MAX_COMMENTS, quote
from honk.hooks.events import mentions

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
HEADER_ALLOWANCE = 64  # the "Comments: the last N of M, oldest first." line and its blank line, not in the budget


# -- commands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@honk stop", Stop()),
        ("@honk stop.", Stop()),
        ("@Honk, cancel!", Stop()),
        ("@honk: cancel", Stop()),
        ("@honk review", ReviewIt()),
        ("@honk Review!", ReviewIt()),
        ("@honk autofix off", Autofix(on=False)),
        ("@honk   autofix   ON", Autofix(on=True)),
        ("Thanks!\n@honk stop\nthe preview is enough for now", Stop()),  # the word alone on the mention's line
        ("@honk stop\r\n", Stop()),
    ],
)
def test_a_command_word_alone_after_the_mention_is_a_command(text: str, expected: object):
    assert command(text, "honk") == expected


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("@honk stop the spinner from flickering", "stop the spinner from flickering"),
        ("@honk review please", "review please"),
        ("@honk review the error handling in src/player.py", "review the error handling in src/player.py"),
        ("@honk autofix", "autofix"),
        ("@honk autofix the lint", "autofix the lint"),
        ("@honk cancelled orders are not shown", "cancelled orders are not shown"),
        ("@honk: make the button blue", "make the button blue"),
        ("@honk, make the button blue", "make the button blue"),
        ("make the button blue @honk", "make the button blue"),
        ("Please @honk make it blue", "Please make it blue"),
        ("@honk\nstop", "stop"),  # the word on another line than the mention: not the command
        ("@honk", ""),
        ("@honk-bot stop", "@honk-bot stop"),  # someone else's handle stays, and is not a command
        ("ana@honk.dev wrote: @honk fix the mail", "ana@honk.dev wrote: fix the mail"),
    ],
)
def test_anything_else_is_an_ask_without_the_mention(text: str, asked: str):
    assert command(text, "honk") == Ask(text=asked)


def test_the_first_line_with_the_mention_decides():
    assert command("@honk fix the crash\n@honk stop", "honk") == Ask(text="fix the crash\nstop")
    assert command("For the record:\n@honk stop\n@honk fix it", "honk") == Stop()


def test_the_handle_is_matched_literally_and_in_any_case():
    assert command("@Honk-Bot[bot] stop", "honk-bot[bot]") == Stop()
    assert command("@h.nk stop", "h.nk") == Stop()
    assert command("@hank stop", "h.nk") == Ask(text="@hank stop"), "the handle's dot is not a wildcard"


def test_a_long_ask_is_cut_at_the_request_bound():
    asked = command("@honk " + "x" * (3 * MAX_REQUEST_CHARS), "honk")
    assert isinstance(asked, Ask) and asked.text == "x" * MAX_REQUEST_CHARS


WORDS = st.sampled_from(
    ["stop", "cancel", "review", "autofix", "on", "off", "please", "fix", "the", "crash", ".", "!", ",", ":"]
)
MENTIONS = st.sampled_from(["@honk", "@Honk", "@HONK", "@honk,", "@honk:", "@honky", "@honk-bot", "ana@honk.dev"])
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", " \n ", "\u2028"])


@st.composite
def comments(draw: st.DrawFn) -> str:
    """Words, mentions (Honk's and look-alikes) and any text, each separated by whitespace."""
    parts = draw(st.lists(st.one_of(WORDS, MENTIONS, st.text(max_size=12)), max_size=20))
    return "".join(p + draw(SPACES) for p in parts)


@FUZZ
@given(st.one_of(comments(), st.text()), st.sampled_from(["honk", "honk[bot]", "h.nk", "Honk-Bot"]))
def test_command_never_raises_and_an_ask_is_bounded(text: str, handle: str):
    result = command(text, handle)
    assert isinstance(result, Ask | Stop | ReviewIt | Autofix)
    if isinstance(result, Ask):
        assert len(result.text) <= MAX_REQUEST_CHARS


@FUZZ
@given(comments())
def test_an_ask_never_contains_the_mention(text: str):
    result = command(text, "honk")
    if isinstance(result, Ask):
        assert not mentions(result.text, "honk"), result.text


@FUZZ
@given(st.text(alphabet="@honk ers.x", max_size=40))
@example("@honk@honk do it")  # two mentions back to back: the substitution leaves the second
@example("x" * (MAX_REQUEST_CHARS - 6) + " @honkers")  # the cut at the bound makes "@honkers" a mention
def test_an_ask_never_contains_the_mention_whatever_its_text(text: str):
    result = command(text, "honk")
    if isinstance(result, Ask):
        assert not mentions(result.text, "honk"), result.text


# -- context ----------------------------------------------------------------------------------------


def comment(i: int, author: str = "bo", text: str | None = None, by_bot: bool = False) -> ThreadComment:
    return ThreadComment(id=i, author=author, by_bot=by_bot, text=f"comment {i}" if text is None else text)


def discussion(**changes: object) -> Discussion:
    fields: dict[str, object] = {
        "number": 12,
        "pull_request": False,
        "title": "Crash on an empty playlist",
        "body": "Opening the app with no songs crashes it.",
        "author": "ana",
        "url": "https://github.com/acme/player/issues/12",
    }
    return Discussion.model_validate(fields | changes)


def test_the_issue_and_who_said_what_without_bots_or_the_request():
    d = discussion(
        comments=[
            comment(1, "bo", "Same here on Android."),
            comment(2, "honk[bot]", "On it: https://honk.example/tasks/t1", by_bot=True),
            comment(3, "cy", "   "),  # nothing said
            comment(4, "ana", "It started with 2.3."),
            comment(5, "ana", "@honk please fix this"),  # the request itself
        ]
    )
    assert quote(d, 5) == (
        "The issue the request was made on: #12 Crash on an empty playlist\n"
        "Opened by @ana (https://github.com/acme/player/issues/12)\n"
        "\n"
        "Description:\n"
        "Opening the app with no songs crashes it.\n"
        "\n"
        "Comments: all 2 of 2, oldest first.\n"
        "@bo: Same here on Android.\n"
        "@ana: It started with 2.3.\n"
    )


def test_a_pull_request_says_so_and_an_unknown_author_is_someone():
    d = discussion(pull_request=True, url="", body="", comments=[comment(1, "", "Looks odd")])
    assert quote(d, None) == (
        "The pull request the request was made on: #12 Crash on an empty playlist\n"
        "Opened by @ana\n"
        "\n"
        "Comments: all 1 of 1, oldest first.\n"
        "@someone: Looks odd\n"
    )


def test_nothing_to_quote_is_empty():
    assert quote(discussion(title="", body="", author="", url=""), None) == ""
    only_bots_and_the_request = [comment(1, "honk[bot]", "On it", by_bot=True), comment(2, "ana", "@honk fix")]
    assert quote(discussion(title="", body=" \n", comments=only_bots_and_the_request), 2) == ""
    assert quote(discussion(body="", comments=only_bots_and_the_request), 2) == (
        "The issue the request was made on: #12 Crash on an empty playlist\n"
        "Opened by @ana (https://github.com/acme/player/issues/12)\n"
    ), "the title alone is still worth saying"


def test_the_newest_comments_are_kept_within_the_count_and_the_cut_is_stated():
    d = discussion(comments=[comment(i) for i in range(1, MAX_THREAD_COMMENTS + 1)])
    text = quote(d, None, max_comments=10, max_chars=MAX_CHARS)
    assert "Comments: " in text  # what it says of the cut: test_the_count_cut_is_stated
    assert text.endswith("".join(f"@bo: comment {i}\n" for i in range(41, 51)))
    assert "comment 40\n" not in text


def test_the_newest_comments_are_kept_within_the_characters_and_the_cut_is_stated():
    d = discussion(comments=[comment(i, text=f"{i:02d} " + "x" * 996) for i in range(1, 41)])
    text = quote(d, None)
    assert len(text) <= MAX_CHARS + HEADER_ALLOWANCE
    kept = [line for line in text.splitlines() if line.startswith("@bo: ")]
    assert 10 < len(kept) < 40
    assert f"Comments: the last {len(kept)} of 40, oldest first." in text
    assert [line[5:7] for line in kept] == [f"{i:02d}" for i in range(41 - len(kept), 41)], "the newest, in order"


def test_one_huge_comment_keeps_its_beginning():
    huge = "The crash is in the queue. " + "y" * (MAX_FORGE_TEXT - 27)
    d = discussion(comments=[comment(1, text="older"), comment(2, "cy", huge)])
    text = quote(d, None)
    assert len(text) <= MAX_CHARS + HEADER_ALLOWANCE
    assert "Comments: the last 1 of 2, oldest first.\n@cy: The crash is in the queue. yyy" in text
    assert text.endswith("y…\n") and "@bo: older" not in text


def test_a_huge_description_takes_at_most_half():
    d = discussion(body="z" * MAX_FORGE_TEXT, comments=[comment(1, text="w" * 9_000)])
    text = quote(d, None)
    assert len(text) <= MAX_CHARS + HEADER_ALLOWANCE
    assert text.count("z") < MAX_CHARS // 2 and "z…\n" in text
    assert "@bo: www" in text, "the comments keep the other half"


def test_the_count_cut_is_stated():
    d = discussion(comments=[comment(i) for i in range(1, 21)])
    assert "Comments: the last 10 of 20, oldest first." in quote(d, None, max_comments=10)


def test_a_small_bound_holds_whatever_the_header():
    d = discussion(title="T" * 1_000, author="a" * 200, url="https://g.example/" + "u" * 1_900, body="b" * 5_000)
    assert len(quote(d, None, max_chars=1_000)) <= 1_000 + 3_200 + HEADER_ALLOWANCE  # the header, at most, over


def long_text(cap: int) -> st.SearchStrategy[str]:
    """Short texts of any characters, and long runs up to `cap` (quick to draw)."""
    run = st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", " ", "\n", "🦆", "ab "]), st.integers(0, cap))
    return st.one_of(st.text(max_size=40), run.map(lambda s: s[:cap]))


THREAD_COMMENTS = st.builds(
    ThreadComment,
    id=st.one_of(st.none(), st.integers(1, 60)),
    author=st.text(max_size=20),
    by_bot=st.booleans(),
    text=long_text(MAX_FORGE_TEXT),
)
DISCUSSIONS = st.builds(
    Discussion,
    number=st.integers(1, 10**9),
    pull_request=st.booleans(),
    title=long_text(1_000),
    body=long_text(MAX_FORGE_TEXT),
    author=long_text(200),
    url=st.one_of(st.just(""), long_text(MAX_URL_CHARS - 8).map(lambda s: "https://" + s)),
    comments=st.lists(THREAD_COMMENTS, max_size=MAX_THREAD_COMMENTS),
)


LEFT_OUT = "⟦not to be quoted⟧"


@FUZZ
@given(DISCUSSIONS, st.one_of(st.none(), st.integers(1, 60)))
def test_quote_never_raises_and_is_bounded(d: Discussion, request_comment: int | None):
    # What must be left out says so, to be looked for in the quote.
    comments = [
        c.model_copy(update={"text": LEFT_OUT}) if c.by_bot or (c.id is not None and c.id == request_comment) else c
        for c in d.comments
    ]
    d = d.model_copy(update={"comments": comments})
    text = quote(d, request_comment)
    assert len(text) <= MAX_CHARS + HEADER_ALLOWANCE
    assert LEFT_OUT not in text, "a bot's words or the request itself were quoted"
    said = [c for c in d.comments if not c.by_bot and c.id != request_comment and c.text.strip()]
    if not text:
        assert not said and not d.title and not d.body.strip()
        return
    assert text.endswith("\n")
    if said:
        assert f" of {min(len(said), MAX_COMMENTS)}, oldest first.\n" in text
