"""The thread a request was made in, quoted for the agent (honk.slack.thread: a pure edge, fuzzed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from honk.slack.thread import MAX_CHARS, quote

REQUEST_TS = "1700000900.000000"


def msg(i: int, text: str, user: str = "U1", **extra) -> dict:
    return {"type": "message", "user": user, "text": text, "ts": f"{1700000000 + i}.000100", **extra}


def names(uid: str) -> str:
    return {"U1": "Ana", "U2": "Bo"}.get(uid, uid)


def test_the_newest_fifty_are_quoted_oldest_first_with_authors_times_and_the_cut_stated():
    thread = [msg(i, f"message {i}", "U1" if i % 2 else "U2") for i in range(60)]
    got = quote(thread, REQUEST_TS, names)
    assert got is not None and (got.used, got.total) == (50, 60)
    lines = got.text.splitlines()
    assert lines[0] == "The Slack thread the request was made in: the last 50 of 60 messages, oldest first."
    assert lines[1] == "[2023-11-14 22:13 UTC] Bo: message 10" and lines[-1].endswith("Ana: message 59")


def test_bots_the_request_itself_and_what_came_after_are_left_out():
    thread = [
        msg(1, "the crash again"),
        msg(2, "On it", bot_id="BHONK"),
        msg(3, "joined", subtype="channel_join"),
        {**msg(900, "<@UHONK> fix this"), "ts": REQUEST_TS},
        msg(950, "later"),
    ]
    got = quote(thread, REQUEST_TS, names)
    assert got is not None and got.text.splitlines()[1:] == ["[2023-11-14 22:13 UTC] Ana: the crash again"]
    assert quote([{**msg(900, "<@UHONK> fix this"), "ts": REQUEST_TS}], REQUEST_TS, names) is None


def test_a_forwarded_message_and_shared_files_are_part_of_the_context():
    forwarded = msg(1, "see this", attachments=[{"is_share": True, "author_name": "Customer", "text": "App crashes"}])
    got = quote([forwarded, msg(2, "", files=[{"name": "crash.png"}])], REQUEST_TS, names)
    assert got is not None
    assert "Ana: see this (forwarded from Customer) App crashes" in got.text and "[shared crash.png]" in got.text


def test_the_character_bound_keeps_the_newest_and_one_huge_message_keeps_its_end():
    thread = [msg(i, "x" * 1000 + f" #{i}") for i in range(40)]
    got = quote(thread, REQUEST_TS, names)
    assert got is not None and got.used < 40 and got.text.rstrip().endswith("#39")
    assert len(got.text) <= MAX_CHARS + 200
    huge = quote([msg(1, "start " + "y" * 50_000 + " the end")], REQUEST_TS, names)
    assert huge is not None and huge.text.rstrip().endswith("the end") and len(huge.text) <= MAX_CHARS + 200


message = st.fixed_dictionaries(
    {"ts": st.one_of(st.text(max_size=20), st.floats(0, 2e9).map(str)), "text": st.text(max_size=3000)},
    optional={
        "user": st.text(max_size=12),
        "bot_id": st.text(max_size=5),
        "subtype": st.sampled_from(["bot_message", "thread_broadcast", "file_share"]),
        "attachments": st.lists(st.dictionaries(st.sampled_from(["text", "fallback", "author_name"]), st.text())),
        "files": st.lists(st.dictionaries(st.just("name"), st.text(max_size=30))),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(message, max_size=80), st.floats(0, 2e9).map(str))
def test_any_thread_is_quoted_within_its_bounds_or_not_at_all(thread, request_ts):
    got = quote(thread, request_ts, names)
    if got is not None:
        assert got.used <= 50 and got.used <= got.total and len(got.text) <= MAX_CHARS + 200


def test_permalinks_are_found_once_each_within_a_bound():
    from honk.slack.thread import Link, links

    text = (
        "see <https://acme.slack.com/archives/C024BE91L/p1690000000123456|this> and "
        "https://acme.slack.com/archives/G0ABC/p1690000001000200?thread_ts=1690000000.000100&cid=G0ABC "
        "and again https://acme.slack.com/archives/C024BE91L/p1690000000123456 "
        "but not https://evil.example/archives/C024BE91L/p1690000000123456"
    )
    assert links([text]) == [
        Link("C024BE91L", "1690000000.123456"),
        Link("G0ABC", "1690000001.000200", "1690000000.000100"),
    ]
    many = " ".join(f"https://a.slack.com/archives/C0X/p16900000{i:02d}000000" for i in range(20))
    assert len(links([many])) == 5


def test_the_thread_s_images_are_the_newest_before_the_request_from_people():
    from honk.slack.thread import shared_images

    def image(n: int) -> dict:
        return {"id": f"F{n}", "name": f"{n}.png", "mimetype": "image/png"}

    messages = [
        {"ts": "1.0", "user": "U1", "files": [image(1), {"id": "L", "name": "a.log", "mimetype": "text/plain"}]},
        {"ts": "2.0", "user": "U2", "files": [image(2), image(3)]},
        {"ts": "3.0", "bot_id": "B1", "files": [image(4)]},  # a bot's (Honk's QR code): not context
        {"ts": "4.0", "user": "U1", "files": [image(5)]},
        {"ts": "9.0", "user": "U1", "files": [image(6)]},  # after the request
    ]
    assert [f["id"] for f in shared_images(messages, "5.0")] == ["F5", "F2", "F3", "F1"]
    assert [f["id"] for f in shared_images(messages, "5.0", most=2)] == ["F5", "F2"]


def test_a_follow_up_s_context_is_what_was_said_since_the_request():
    messages = [{"ts": f"{i}.0", "user": "U1", "text": f"m{i}"} for i in range(1, 8)]
    got = quote(messages, "6.0", lambda u: u, after_ts="3.0", title="Since the request")
    assert got is not None and got.text.startswith("Since the request: all 2 of 2 messages")
    assert "m4" in got.text and "m5" in got.text and "m3" not in got.text and "m6" not in got.text
