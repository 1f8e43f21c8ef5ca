"""What Honk makes of a file that comes with a request: kept as the model can use it, or refused with a
reason, each file on its own (honk.attachments, a pure edge: bytes in, a decision out)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from honk.attachments import (
    MAX_FILE_BYTES,
    MAX_IMAGE_EDGE,
    Incoming,
    Kept,
    Refused,
    accept,
    extract,
    judge,
    safe_name,
)
from honk.domain import MAX_ATTACHMENTS


def picture(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), "white").save(buf, fmt)
    return buf.getvalue()


def test_a_small_screenshot_is_kept_as_it_came():
    data = picture(390, 844)
    kept = judge("shot.png", data)
    assert isinstance(kept, Kept) and kept.kind == "image" and kept.media_type == "image/png"
    assert kept.data == data and kept.note == ""


def test_a_phone_photo_is_scaled_to_what_the_model_reads_not_refused():
    kept = judge("IMG_0001.jpeg", picture(4032, 3024, "JPEG"))
    assert isinstance(kept, Kept) and kept.kind == "image"
    img = Image.open(io.BytesIO(kept.data))
    assert max(img.size) == MAX_IMAGE_EDGE and img.size == (1568, 1176)
    assert kept.note == "scaled from 4032×3024 to 1568×1176"
    assert kept.name in ("IMG_0001.png", "IMG_0001.jpg")


def test_gif_and_webp_are_recognised_by_their_bytes():
    gif = judge("anim.gif", picture(20, 20, "GIF", "P"))
    webp = judge("x.webp", picture(20, 20, "WEBP"))
    assert isinstance(gif, Kept) and gif.media_type == "image/png" and gif.name == "anim.png"
    assert isinstance(webp, Kept) and webp.media_type == "image/webp"


def test_a_file_named_png_that_is_not_one_is_refused_and_an_image_with_a_text_name_is_an_image():
    fake = judge("shot.png", b"MZ\x90\x00" + bytes(200))
    assert isinstance(fake, Refused) and "neither an image" in fake.reason
    real = judge("notes.txt", picture(10, 10))
    assert isinstance(real, Kept) and real.kind == "image"


def test_an_image_that_does_not_decode_is_refused_with_why():
    broken = judge("shot.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    assert isinstance(broken, Refused) and "does not decode as one" in broken.reason


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    bomb = judge("bomb.png", picture(10_000, 10_000, "PNG", "1"))
    assert isinstance(bomb, Refused) and "more than 50,000,000 pixels" in bomb.reason


def test_past_the_hard_cap_a_file_is_refused_by_its_whole_size():
    refused = judge("video.mp4", bytes(MAX_FILE_BYTES + 1), size=30 * 1024 * 1024)
    assert isinstance(refused, Refused) and refused.reason == "it is 30.0 MB; the limit is 20.0 MB"


def test_a_log_is_text_and_a_long_one_reaches_the_agent_as_its_start_and_end():
    log = "".join(f"line {i}\n" for i in range(10_000)) + "Traceback: KeyError 'playlist'\n"
    kept = judge("server.log", log.encode())
    assert isinstance(kept, Kept) and kept.kind == "text" and "of 98,921 characters" in kept.note
    shown = extract(log)
    assert shown.startswith("line 0\n") and shown.endswith("KeyError 'playlist'\n")
    assert "characters cut" in shown and len(shown) < 17_000


def test_each_file_is_judged_on_its_own_and_the_count_is_bounded():
    files = [Incoming(f"f{i}.txt", b"hello") for i in range(MAX_ATTACHMENTS + 2)]
    files[1] = Incoming("big.bin", b"", size=MAX_FILE_BYTES * 2)
    kept, refused = accept(files)
    assert len(kept) == MAX_ATTACHMENTS - 1
    assert [r.name for r in refused] == ["big.bin", f"f{MAX_ATTACHMENTS}.txt", f"f{MAX_ATTACHMENTS + 1}.txt"]
    assert "per request" in refused[-1].reason


def test_names_are_safe_as_paths_and_unique():
    assert safe_name("../../etc/passwd", 0) == "passwd"
    assert safe_name(".bashrc", 0) == "bashrc"
    assert safe_name("C:\\Users\\me\\shot 1.png", 0) == "shot-1.png"
    assert safe_name("...", 2) == "attachment-3"
    kept, _ = accept([Incoming("a.txt", b"1"), Incoming("a.txt", b"2"), Incoming("dir/a.txt", b"3")])
    assert [k.name for k in kept] == ["a.txt", "a-2.txt", "a-3.txt"]


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300), data=st.binary(max_size=4096))
def test_any_bytes_under_any_name_are_kept_or_refused_never_an_error(name: str, data: bytes):
    kept, refused = accept([Incoming(name, data)])
    assert len(kept) + len(refused) == 1
    one = (kept or refused)[0]
    assert one.name and "/" not in one.name and not one.name.startswith(".")


@settings(max_examples=60, deadline=None)
@given(
    header=st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]),
    rest=st.binary(max_size=2048),
)
def test_anything_that_starts_like_an_image_is_decoded_or_refused(header: bytes, rest: bytes):
    outcome = judge("x", header + rest)
    assert isinstance(outcome, Refused) or outcome.kind == "image"
