"""Hypothesis on the Slack chat intake parser: any message gets a clear outcome, options and markup behave.

Slack sends message text escaped (`&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`) with its own markup left raw
(`<@U123>`, `<#C1|general>`, `<https://…|label>`, `<!here>`), so realistic messages are built the same way:
what a person typed, escaped, with markup tokens between the words. Arbitrary raw text is thrown at the
parser too. Seeded and derandomized: CI sees the same cases.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from honk.domain import MAX_REQUEST_CHARS, RepoSelector
from honk.errors import UserFacingError
from honk.slack.intake import COMMANDS, LANGUAGE_FILES, OPTION, Ask, CampaignAsk, Command, Problem, parse, unescape

SLACK_MAX_CHARS = 40_000  # Slack truncates longer messages

FAST = settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

MARKUP = [
    "<@U123>",
    "<@UHONK>",
    "<@U0LAN0Z89|honk>",
    "<#C1|general>",
    "<#C024BE7LR>",
    "<!here>",
    "<!channel>",
    "<https://example.com>",
    "<https://example.com/a?b=c&amp;d=e|a link>",
    "<mailto:ada@example.com|Ada>",
    "<!subteam^S123|@team>",
]
TYPED = [
    "help",
    "HELP",
    "list",
    "status",
    "use",
    "Use",
    "repo=",
    "=calc",
    "repo=calc",
    "agent=scripted",
    "model=claude-opus-4-6",
    "repo=a=b",
    "xrepo=a",
    "&",
    "<",
    ">",
    "&amp;",
    "&lt;",
    "&gt;",
    "&amp;lt;",
    "\n",
    "\t",
    "  ",
    "\u00a0",
    "\u200b",
    "\u202e",
    "é",
    "İ",
    "ﬃ",
    "🦆",
    "日本語",
    "`code`",
    "*bold*",
    "t-abcdefghijkl",
    "\x00",
    "\ud800",
]

typed_word = st.one_of(st.sampled_from(TYPED), st.text(max_size=12))
typed_text = st.lists(typed_word, max_size=25).map(" ".join)
option_value = st.from_regex(r"[A-Za-z0-9._/:-]{1,30}", fullmatch=True)
option = st.tuples(st.sampled_from(["repo", "agent", "model"]), option_value)


def slack_escape(typed: str) -> str:
    """What Slack sends for text a person typed."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def squash(text: str) -> str:
    """The parser's whitespace rule: runs of spaces and tabs become one space, ends are stripped."""
    return re.sub(r"[ \t]+", " ", text).strip()


@st.composite
def messages(draw: st.DrawFn) -> str:
    """A message as Slack delivers it: typed text escaped, markup raw, options anywhere, words glued or spaced."""
    parts = draw(
        st.lists(
            st.one_of(typed_text.map(slack_escape), st.sampled_from(MARKUP), option.map(lambda o: f"{o[0]}={o[1]}")),
            max_size=12,
        )
    )
    return draw(st.sampled_from([" ", "", "\n", " \t "])).join(parts)


def outcome(text: str) -> Ask | CampaignAsk | Command | Problem | None:
    """parse(), allowing only a UserFacingError with something to say (any other exception fails the test)."""
    try:
        got = parse(text)
    except UserFacingError as e:
        assert str(e).strip(), "a refusal must say why"
        return None
    assert isinstance(got, Ask | CampaignAsk | Command | Problem), got
    return got


def assert_clear(got: Ask | CampaignAsk | Command | Problem | None) -> None:
    if isinstance(got, CampaignAsk):
        assert got.text and got.text == got.text.strip() and len(got.text) <= MAX_REQUEST_CHARS
        assert OPTION.search(got.text) is None, f"a recognised option was left in {got.text!r}"
        assert all(re.fullmatch(r"[A-Za-z0-9._/-]{1,100}", n) for n in got.selector.names), got.selector
        for part in (got.selector.glob, got.selector.path, got.selector.content):
            assert part is None or (part and part.isprintable()), got.selector
        if got.selector.content is not None:
            re.compile(got.selector.content)  # what the mirror's file test will compile
    elif isinstance(got, Problem):
        assert got.message.strip()
    elif isinstance(got, Ask):
        assert got.text and got.text == got.text.strip() and len(got.text) <= MAX_REQUEST_CHARS
        assert OPTION.search(got.text) is None, f"a recognised option was left in {got.text!r}"
        for value in (got.repo, got.agent, got.model):
            assert value is None or OPTION.fullmatch(f"repo={value}")
    elif isinstance(got, Command):
        assert got.name in COMMANDS
        assert got.argument is None or (got.argument and not any(c.isspace() for c in got.argument))
        assert got.name != "use" or got.argument


@FAST
@given(st.one_of(st.text(max_size=2000), messages()))
def test_any_message_gets_a_clear_outcome(text):
    assert_clear(outcome(text))


@settings(FAST, max_examples=40)
@given(
    st.lists(st.one_of(st.sampled_from(TYPED + MARKUP), st.text(min_size=1, max_size=40)), min_size=1, max_size=20),
    st.integers(min_value=1, max_value=3000),
)
def test_very_long_messages_get_a_clear_outcome(pieces, times):
    text = (" ".join(pieces) * times)[:SLACK_MAX_CHARS]
    got = outcome(text)
    assert_clear(got)
    if not any(c in text for c in "=&<") and len(squash(text)) > MAX_REQUEST_CHARS:  # nothing to strip
        assert isinstance(got, Problem) and f"{MAX_REQUEST_CHARS:,}" in got.message


@FAST
@given(typed_text, st.lists(st.sampled_from(MARKUP[:3]), min_size=1, max_size=3), st.data())
def test_mentions_of_honk_or_anyone_are_not_part_of_the_message(typed, mentions, data):
    words = slack_escape(typed).split(" ")
    marked = list(words)
    for mention in mentions:
        marked.insert(data.draw(st.integers(0, len(marked))), mention)
    assert outcome(" ".join(marked)) == outcome(" ".join(words))


@FAST
@given(typed_text, st.lists(option, min_size=1, max_size=4), st.data())
def test_recognised_options_are_taken_out_of_the_text(typed, options, data):
    assume("=" not in typed)  # typed text with no options of its own
    words = ["please", *slack_escape(typed).split(" ")]  # not a command word first
    with_options: list[str | tuple[str, str]] = list(words)
    for name, value in options:
        with_options.insert(data.draw(st.integers(1, len(with_options))), (name, value))
    message = " ".join(w if isinstance(w, str) else f"{w[0]}={w[1]}" for w in with_options)
    plain, got = outcome(" ".join(words)), outcome(message)
    assert isinstance(got, Ask) and isinstance(plain, Ask)
    assert got.text == plain.text, "the options are gone from the text and nothing else is"
    last = dict(w for w in with_options if isinstance(w, tuple))  # the last of each option in the message wins
    assert (got.repo, got.agent, got.model) == (last.get("repo"), last.get("agent"), last.get("model"))


@FAST
@given(typed_text)
def test_what_a_person_typed_comes_back_as_they_typed_it(typed):
    """Round trip: Slack's escaping is undone exactly once, so `&lt;` typed stays `&lt;`."""
    text = squash(f"please {typed}")
    assume(OPTION.search(text) is None)
    assert outcome(f"<@UHONK> {slack_escape(text)}") == Ask(text=text)


@FAST
@given(typed_text)
def test_parsing_an_asks_text_again_gives_the_same_ask(typed):
    """Idempotence: the text of an Ask, sent again as a message, asks for the same thing."""
    first = outcome(slack_escape(f"please {typed}"))
    assume(isinstance(first, Ask))
    assert outcome(slack_escape(first.text)) == Ask(text=first.text)


@FAST
@given(
    st.sampled_from(COMMANDS),
    st.sampled_from(["", "<@UHONK> ", "<@U0LAN0Z89|honk>  ", "\t"]),
    st.sampled_from([str.lower, str.upper, str.title]),
    st.one_of(st.none(), st.from_regex(r"[a-z0-9._-]{1,20}", fullmatch=True)),
)
def test_commands_are_recognised_in_any_case_after_a_mention(name, mention, case, argument):
    text = f"{mention}{case(name)}" + (f" {argument}" if argument else "")
    got = outcome(text)
    if name == "use" and argument is None:
        assert isinstance(got, Problem) and "use REPO" in got.message
    elif argument is None or name in ("use", "status"):
        assert got == Command(name=name, argument=argument)
    else:  # `help me …`, `list all …`: a sentence that starts like a command is a request
        assert got == Ask(text=f"{case(name)} {argument}")


# -- campaigns: `@honk in every repo with python: …`, `in repos api, web: …`, `in repos matching svc-*: …` ----------
repo_name = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
glob = st.from_regex(r"[a-z]{1,6}-\*", fullmatch=True)
path = st.one_of(
    st.sampled_from(["requirements.txt", "Dockerfile", "pyproject.toml", "src/**/*.ts"]),
    st.sampled_from(sorted(LANGUAGE_FILES)),
)
word = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.=<>*+?()\[\]-]{1,20}", fullmatch=True),
    st.sampled_from(["requests", "a.b", "c++", "x|y"]),
)
request_text = st.from_regex(r"[A-Za-z][A-Za-z0-9 ,.!?()-]{0,80}", fullmatch=True).map(squash).filter(bool)


@st.composite
def campaign_messages(draw: st.DrawFn) -> tuple[str, RepoSelector, str]:
    """A campaign asked as people write one, with the selector it must give and the request text."""
    names = draw(st.lists(repo_name, max_size=4, unique=True))
    matching = draw(st.one_of(st.none(), glob))
    with_path = draw(st.one_of(st.none(), path))
    containing = draw(st.one_of(st.none(), word)) if with_path else None
    every = not names and draw(st.booleans())
    clauses = []
    if matching:
        clauses.append(f"matching {matching}")
    if with_path:
        clauses.append(f"with {with_path}" + (f" containing {containing}" if containing else ""))
    clauses = draw(st.permutations(clauses))
    joiner = draw(st.sampled_from([", ", " and ", ",", " , "]))
    head = draw(st.sampled_from(["in every repo", "In every repo", "in all repos"])) if every else "in repos"
    if not every and not names and not clauses:
        names = [draw(repo_name)]
    spec = " ".join([joiner.join(names), *clauses] if names else clauses)
    text = draw(request_text)
    message = f"{draw(st.sampled_from(MARKUP[:3]))} {head} {spec}: {slack_escape(text)}"
    expected = RepoSelector(
        names=names,
        glob=matching,
        path=LANGUAGE_FILES.get(with_path, with_path) if with_path else None,
        content=re.escape(containing) if containing else None,
    )
    return message, expected, text


@FAST
@given(campaign_messages())
def test_a_campaign_asked_in_words_selects_what_the_words_say(case):
    message, selector, text = case
    got = outcome(message)
    assert isinstance(got, CampaignAsk), (message, got)
    assert got.selector == selector and got.text == text
    assert_clear(got)


@FAST
@given(st.sampled_from(["in every repo", "in all repos", "in repos", "IN REPOS"]), typed_text, st.text(max_size=200))
def test_anything_after_in_repos_gives_a_clear_outcome(head, spec, rest):
    """Whatever follows `in repos` (garbage, markup, NULs, a colon or none) is a campaign, a clear refusal, or,
    without the colon, an ordinary request; never an exception or a selector the store could not keep."""
    got = outcome(f"<@UHONK> {head} {slack_escape(spec)}: {rest}")
    assert_clear(got)
    if isinstance(got, Ask):
        assert ":" in spec or not got.text.lower().startswith(("in every repo", "in all repos", "in repos ")), got


# -- best of N (honk.attempts): `@honk best of N: …` ---------------------------------------------------------
@FAST
@given(
    st.integers(0, 999_999),
    st.sampled_from(["best of", "Best Of", "BEST  of", "best\tof"]),
    st.sampled_from([":", " :", ": ", " :  "]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80),
    st.sampled_from(["", "plan: "]),
)
def test_best_of_n_asks_for_n_attempts_of_exactly_the_rest(
    n: int, words: str, colon: str, request: str, plan: str
) -> None:
    request = re.sub(r"\s+", " ", request).strip()
    assume(request and not OPTION.search(request) and not request.lower().startswith(("plan", "best")))
    assume(not any(c in request for c in "<>&"))
    parsed = parse(f"<@UHONK> {words} {n}{colon}{plan}{request}")
    assert isinstance(parsed, Ask), parsed
    assert (parsed.attempts, parsed.text, parsed.plan) == (n, request, bool(plan))


@FAST
@given(st.text(max_size=200))
def test_only_a_leading_best_of_asks_for_attempts(text: str) -> None:
    parsed = parse(text)
    if isinstance(parsed, Ask) and parsed.attempts:
        assert re.match(r"^best\s+of\s+[0-9]+\s*:", unescape(text), re.IGNORECASE)


def test_best_of_words_elsewhere_are_an_ordinary_request() -> None:
    parsed = parse("<@UHONK> pick the best of 3 fixes: the login bug")
    assert isinstance(parsed, Ask) and parsed.attempts == 0
    parsed = parse("<@UHONK> best of three: fix it")  # a number, as digits
    assert isinstance(parsed, Ask) and parsed.attempts == 0
