"""The `$HONK_OUTPUT` contract and the link pattern: what a team's delivery command can tell Honk, and
everything a hostile or broken one could write instead (refused as data, never an exception)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honk.deliver.output import (
    MAX_LINES,
    MAX_OUTPUT_BYTES,
    HonkOutput,
    find_link,
    https_url,
    parse_output,
)
from honk.domain import KIND_LINKS, DeliveryRefused


def parsed(text: str | bytes) -> HonkOutput:
    out = parse_output(text.encode() if isinstance(text, str) else text)
    assert isinstance(out, HonkOutput), out
    return out


def refused(text: str | bytes) -> str:
    out = parse_output(text.encode() if isinstance(text, str) else text)
    assert isinstance(out, DeliveryRefused), out
    return out.why


def test_every_key_is_read_and_unknown_keys_comments_and_blank_lines_are_skipped() -> None:
    out = parsed(
        "# written by our upload script\n"
        "url=https://testflight.apple.com/join/AbC123\n"
        "label = Open in TestFlight \n"
        "\n"
        "title=Shop\nversion=2.4.0\nbuild=311\n"
        "message=Build 311 is with Apple: testers get it in about 15 minutes\n"
        "status=delivered\n"
        "artifact_id=9f8e\n"
    )
    assert out == HonkOutput(
        url="https://testflight.apple.com/join/AbC123",
        label="Open in TestFlight",
        title="Shop",
        version="2.4.0",
        build="311",
        message="Build 311 is with Apple: testers get it in about 15 minutes",
        status="delivered",
    )


def test_a_later_line_wins_an_empty_value_unsets_and_windows_line_endings_are_read() -> None:
    out = parsed(
        "status=processing\r\nurl=https://a.example.com/1\r\nurl=https://a.example.com/2\r\nlabel=x\r\nlabel=\r\n"
    )
    assert (out.status, out.url, out.label) == ("processing", "https://a.example.com/2", "")
    assert parsed("url=\n") == HonkOutput(), '`echo "url=$LINK"` with no link is no link'
    assert parsed("") == HonkOutput()


def test_a_value_may_hold_an_equals_sign() -> None:
    assert parsed("url=https://x.example.com/i?a=1&b=2\n").url == "https://x.example.com/i?a=1&b=2"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("javascript:alert(1)", "must be an https:// link"),
        ("JavaScript://x.example.com/%0aalert(1)", "must be an https:// link"),
        ("http://testflight.apple.com/join/x", "must be an https:// link"),
        ("http://127.0.0.1:8080/app.apk", "must be an https:// link"),
        ("itms-services://?action=download-manifest&url=https://x/m.plist", "must be an https:// link"),
        ("data:text/html,<script>", "must be an https:// link"),
        ("https://user:pass@x.example.com/", "must not carry a user or password"),
        ("https:///nohost", "must name a host"),
        ("https://x.example.com:99999/", "is not a valid URL"),
        ("https://x.example.com/a b", "must be one link without spaces"),
        ("https://x.example.com/" + "a" * 2100, "is longer than 2000 characters"),
    ],
)
def test_a_url_that_is_not_an_https_link_for_a_phone_is_refused(url: str, why: str) -> None:
    said = refused(f"url={url}\n")
    assert said.startswith("$HONK_OUTPUT's url ") and why in said, said


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("message=one\x1b[2Jtwo", "line 1 has a control character (U+001B)"),
        ("url=https://x.example.com/\x00", "line 1 has a control character (U+0000)"),
        ("title=Shop\u202egpj.exe", "line 1 has a control character (U+202E)"),
        ("label=tap\rhere", "line 1 has a control character (U+000D)"),
        ("message=\x85next", "line 1 has a control character (U+0085)"),
        ("message=a\u2028b", "line 1 has a control character (U+2028)"),
    ],
)
def test_a_control_character_anywhere_refuses_the_file(line: str, why: str) -> None:
    assert refused(line + "\n") == f"$HONK_OUTPUT {why}"


def test_an_unknown_key_with_a_control_character_still_refuses() -> None:
    """Every line is checked: a tool that writes escapes is not trusted for the lines after."""
    assert "line 2 has a control character" in refused("url=https://x.example.com/\nnote=\x07\n")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b"url=https://x.example.com/\xff\n", "$HONK_OUTPUT is not UTF-8 text"),
        (b"x" * (MAX_OUTPUT_BYTES + 1), "$HONK_OUTPUT is larger than 64 KiB"),
        (b"a=b\n" * (MAX_LINES + 1), f"$HONK_OUTPUT has more than {MAX_LINES} lines"),
        (b"url<<EOF\nhttps://x.example.com/\nEOF\n", "$HONK_OUTPUT line 1 is not key=value (one value per line)"),
        (b"status=uploaded\n", '$HONK_OUTPUT\'s status must be "processing" or "delivered"'),
        (b"label=" + b"x" * 76 + b"\n", "$HONK_OUTPUT's label is longer than 75 characters"),
        (b"message=" + b"x" * 1001 + b"\n", "$HONK_OUTPUT's message is longer than 1000 characters"),
    ],
)
def test_malformed_oversized_or_out_of_contract_files_are_refused_with_what_to_fix(text: bytes, why: str) -> None:
    assert refused(text) == why


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_OUTPUT_BYTES + 64))
def test_any_bytes_are_read_or_refused_never_raised(data: bytes) -> None:
    out = parse_output(data)
    if isinstance(out, HonkOutput):
        assert out.url is None or https_url(out.url) is None
        for value in (out.label, out.title, out.version, out.build, out.message, out.url or ""):
            assert len(value) <= 2000 and value == value.strip() and value.isprintable()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["url", "label", "title", "version", "build", "message", "status", "other", " url "]),
            st.text(max_size=80),
        ),
        max_size=30,
    )
)
def test_any_key_value_lines_are_read_or_refused_never_raised(pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k}={v}\n" for k, v in pairs)
    out = parse_output(text.encode("utf-8", "surrogatepass"))
    assert isinstance(out, HonkOutput | DeliveryRefused)
    if isinstance(out, HonkOutput) and out.status is not None:
        assert out.status in ("processing", "delivered")


# -- the link in the tool's output ------------------------------------------------------------------


FIREBASE_SAYS = """\
i  uploading binary...
\x1b[1m\x1b[32m✔ \x1b[39m\x1b[22m uploaded new release 2.4.0 (311) successfully!
\x1b[1m\x1b[32m✔ \x1b[39m\x1b[22m View this release in the Firebase console: https://console.firebase.google.com/project/shop/appdistribution/app/android:com.example.shop/releases/6abc
\x1b[1m\x1b[32m✔ \x1b[39m\x1b[22m Share this release with testers who have access: https://appdistribution.firebase.google.com/testerapps/1:123:android:abc/releases/6abc
\x1b[1m\x1b[32m✔ \x1b[39m\x1b[22m Download the release binary (link expires in 1 hour): https://firebaseappdistribution.googleapis.com/x
"""


def test_the_kinds_usual_link_is_found_in_a_real_tools_coloured_output() -> None:
    assert find_link(FIREBASE_SAYS, KIND_LINKS["firebase"]) == (
        "https://appdistribution.firebase.google.com/testerapps/1:123:android:abc/releases/6abc"
    )
    said = "Website link   https://expo.dev/accounts/ana/projects/shop/updates/0f1e2d3c\n"
    assert find_link(said, KIND_LINKS["expo-update"]) == "https://expo.dev/accounts/ana/projects/shop/updates/0f1e2d3c"


def test_a_pattern_with_a_group_gives_the_group_and_prose_punctuation_is_taken_off() -> None:
    said = "Uploaded. (Install: https://apps.example.com/i/42.)\nInstall: https://apps.example.com/i/43\n"
    assert find_link(said, r"Install: (https://\S+)") == "https://apps.example.com/i/42"
    assert find_link('see "https://apps.example.com/i/7",', r"https://\S+") == "https://apps.example.com/i/7"


def test_a_match_that_is_not_an_https_link_is_passed_over_for_the_next() -> None:
    said = "link: javascript:alert(1)\nlink: http://apps.example.com/1\nlink: https://apps.example.com/2\n"
    assert find_link(said, r"link: (\S+)") == "https://apps.example.com/2"
    assert find_link("no link here\n", r"https://\S+") is None
    assert find_link("", r"https://\S+") is None


def test_a_huge_single_line_is_cut_before_the_pattern_runs() -> None:
    said = "x" * 100_000 + " https://apps.example.com/late\nhttps://apps.example.com/next\n"
    assert find_link(said, r"https://\S+") == "https://apps.example.com/next"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_finding_a_link_in_any_output_never_raises_and_gives_an_https_link(output: str) -> None:
    for pattern in (r"https://\S+", KIND_LINKS["testflight"], r"url: (\S+)"):
        link = find_link(output, pattern)
        assert link is None or https_url(link) is None
