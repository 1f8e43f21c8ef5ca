"""Parsing what a Slack message asks, including hostile input (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from honk.domain import RepoSelector
from honk.slack.intake import Ask, CampaignAsk, Command, Problem, parse


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
    assert isinstance(got, Ask | CampaignAsk | Command | Problem)
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


def test_campaigns_asked_in_words():
    assert parse("<@UHONK> in every repo with python: bump requests to 2.32") == CampaignAsk(
        text="bump requests to 2.32", selector=RepoSelector(path="**/*.py")
    )
    assert parse("<@UHONK> in every repo: add a CODEOWNERS file") == CampaignAsk(
        text="add a CODEOWNERS file", selector=RepoSelector()
    )
    assert parse("<@UHONK> in repos api, web: fix the typo agent=scripted") == CampaignAsk(
        text="fix the typo", selector=RepoSelector(names=["api", "web"]), agent="scripted"
    )
    assert parse("<@UHONK> in repos matching svc-*: add a health check") == CampaignAsk(
        text="add a health check", selector=RepoSelector(glob="svc-*")
    )
    assert parse("<@UHONK> in repos with requirements.txt containing requests: bump it") == CampaignAsk(
        text="bump it", selector=RepoSelector(path="requirements.txt", content="requests")
    )
    # What follows the colon is the request, colons and all; the words typed are literal, not a regex.
    got = parse("<@UHONK> in all repos with `setup.py` containing c++: note: drop setup.py")
    assert got == CampaignAsk(text="note: drop setup.py", selector=RepoSelector(path="setup.py", content=r"c\+\+"))


@pytest.mark.parametrize(
    ("language", "path"),
    [
        ("python", "**/*.py"),
        ("Go", "go.mod"),
        ("rust", "Cargo.toml"),
        ("javascript", "package.json"),
        ("typescript", "package.json"),
        ("java", "**/*.java"),
        ("ruby", "Gemfile"),
        ("Dockerfile", "Dockerfile"),  # not a language: a path
    ],
)
def test_a_language_names_the_file_that_marks_it(language, path):
    got = parse(f"<@UHONK> in every repo with {language}: bump it")
    assert isinstance(got, CampaignAsk) and got.selector == RepoSelector(path=path)


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ("in repos: bump it", "Say which repos"),
        ("in every repo: ", "after the colon"),
        ("in every repo we have, the README is stale: fix it", "did not understand 'we'"),
        ("in repos a b: bump", "'a b' is not a repo name"),
        ("in every repo with: bump", "`with` needs something"),
        ("in every repo containing x: bump", "`containing` follows a file"),
        ("in repos svc-* matching web-*: bump", "Only one name glob"),
        ("in repos api: bump it repo=web", "not with `repo=`"),
        ("in repos matching $(rm): bump", "not a pattern of repo names"),
    ],
)
def test_a_campaign_that_cannot_be_read_says_what_to_write(message, says):
    got = parse(f"<@UHONK> {message}")
    assert isinstance(got, Problem) and says in got.message, got


def test_requests_that_merely_start_with_in_are_ordinary_requests():
    assert parse("<@UHONK> in the login page, fix: the crash") == Ask(text="in the login page, fix: the crash")
    assert parse("<@UHONK> in repository api: fix it") == Ask(text="in repository api: fix it")
    assert parse("<@UHONK> in repos without a colon fix it") == Ask(text="in repos without a colon fix it")


def test_across_names_one_task_over_several_repos_in_order():
    got = parse("<@UHONK> across api, web , docs: rename user_id to account_id agent=scripted")
    assert got == Ask(text="rename user_id to account_id", repo="api", also=["web", "docs"], agent="scripted")
    assert parse("<@UHONK> Across api,web: plan: rename it") == Ask(
        text="rename it", repo="api", also=["web"], plan=True
    )
    assert parse("<@UHONK> across the board, make buttons blue") == Ask(text="across the board, make buttons blue")


def test_a_bad_across_list_says_how_to_fix_it():
    one = parse("<@UHONK> across api: rename user_id")
    assert isinstance(one, Problem) and "at least two repos" in one.message
    clash = parse("<@UHONK> across api, web: rename user_id repo=other")
    assert isinstance(clash, Problem) and "Name the repos once" in clash.message
    many = parse("<@UHONK> across " + ", ".join(f"r{i}" for i in range(30)) + ": x")
    assert isinstance(many, Problem) and "at most 20" in many.message


@given(st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), min_size=2, max_size=20), st.text())
def test_across_any_names_and_text_never_crash_and_keep_the_order(names, text):
    got = parse(f"<@UHONK> across {', '.join(names)}: {text}")
    assert isinstance(got, Ask | Problem)
    if isinstance(got, Ask) and got.also:
        assert [got.repo, *got.also] == names
