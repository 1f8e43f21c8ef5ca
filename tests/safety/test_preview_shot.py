"""The headless browser that takes a preview's screenshot runs confined like the repo's own code: a
previewed page that reaches for a loopback port on the host gets nothing, and the picture is still
taken (real Chromium, real bubblewrap)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from honk.build.screenshot import Screenshots, browser
from honk.sandbox import Sandbox, SandboxConfig


@pytest.mark.skipif(browser() is None, reason="no Chromium here (.ci/run installs it)")
async def test_a_previewed_page_cannot_reach_the_host_and_the_picture_is_taken(tmp_path: Path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    data = tmp_path / "data"
    preview = data / "previews" / "t-1"
    preview.mkdir(parents=True)
    (preview / "index.html").write_text(
        "<!doctype html><title>hostile</title><body style='background:#c2410c'><h1>Hello</h1><script>"
        f"fetch('http://127.0.0.1:{port}/steal').catch(() => {{}});"
        f"new Image().src = 'http://127.0.0.1:{port}/pixel';</script></body>"
    )
    shots = Screenshots(Sandbox(SandboxConfig(hidden=(data,))), data / "agent-homes", data / "previews")
    out = tmp_path / "shot.png"
    try:
        assert await shots.take("t-1", out)
        assert out.read_bytes().startswith(b"\x89PNG") and out.stat().st_size > 2000
        with pytest.raises(BlockingIOError):
            listener.accept()  # the page's requests never reached the host's loopback
    finally:
        listener.close()
    assert not (data / "agent-homes" / "t-1" / "screenshot").exists(), "the browser's profile is gone"
