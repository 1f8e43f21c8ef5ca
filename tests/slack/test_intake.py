"""Parsing what a Slack message asks, including hostile input (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from honk.slack.intake import Ask, Command, Problem, parse


def test_a_request_with_options_anywhere():
    got = parse("<@UHONK> fix the crash repo=player when a playlist is empty model=claude-opus-4-6")
    assert got == Ask(text="fix the crash when a playlist is empty", repo="player", model="claude-opus-4-6")


def test_commands():
    assert parse("<@UHONK> help") == Command(name="help")
    assert parse("<@UHONK>   LIST") == Command(name="list")
    assert parse("<@UHONK> use player") == Command(name="use", argument="player")
    assert parse("<@UHONK> status t-abc") == Command(name="status", argument="t-abc")
    assert isinstance(parse("<@UHONK> use"), Problem)


def test_a_sentence_that_starts_like_a_command_is_a_request():
    assert parse("<@UHONK> list all playlists alphabetically") == Ask(text="list all playlists alphabetically")
    assert parse("<@UHONK> help text is wrong") == Ask(text="help text is wrong")


def test_empty_and_escaped():
    assert isinstance(parse("<@UHONK>   "), Problem)
    assert isinstance(parse("<@UHONK> repo=player"), Problem)
    assert parse("<@UHONK> show &lt;b&gt; &amp; more").text == "show <b> & more"


@given(st.text(max_size=3000))
def test_any_text_gives_a_clear_outcome(text):
    got = parse(text)
    assert isinstance(got, Ask | Command | Problem)
    if isinstance(got, Ask):
        assert got.text and got.text == got.text.strip()
    if isinstance(got, Problem):
        assert got.message


def test_plan_first_is_asked_with_a_prefix():
    got = parse("<@UHONK> plan: fix the crash repo=player")
    assert got == Ask(text="fix the crash", repo="player", plan=True)
    assert parse("<@UHONK> Plan:fix it").plan  # type: ignore[union-attr]
    assert parse("<@UHONK> plan the sprint").plan is False  # type: ignore[union-attr] - only "plan:" asks
    assert isinstance(parse("<@UHONK> plan:   repo=player"), Problem)
