"""Delivering a build to a phone: a 100 MB artifact downloaded through its signed link (Honk's install
router on uvicorn, a process of its own) vs the same file from a plain static file server started in the
same run (Python's `http.server`, a process of its own); the server's memory while the file streams, to a
fast client and to a slow one; and what checking a signed link costs a request.

`python -m bench.deliver serve ROOT PORT` is the Honk side's process (the router alone, as the web
server will mount it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.common import REPO_ROOT, Row, Section, median, scratch
from honk.deliver.links import ArtifactLinks
from honk.deliver.shelf import DeliveryShelf, file_digest
from honk.domain import ANDROID_APK, DeliveredApp
from honk.ports import free_port

TASK, NAME = "t-benchbenchbe", "app.apk"
KEY = b"bench-deliver-key-bench-deliver-"
TARGET_RATIO = 0.9
FLAT_MB = 16  # what "flat" allows: a few chunks in flight, nothing proportional to the file
SLOW_RATE = "20M"  # bytes/s: a phone on a good Wi-Fi, slower than loopback by far
SLOW_S = 3


def serve(root: Path, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from honk.web.install import install_router

    app = FastAPI()
    app.include_router(install_router(ArtifactLinks(KEY, f"http://127.0.0.1:{port}"), DeliveryShelf(root)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)


def _start(argv: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv} exited with {proc.returncode}; see {log}")
        try:
            httpx.head(url, timeout=1.0)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{argv} did not answer at {url}; see {log}")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class _Peak:
    """The highest RSS of `pid` while it runs, sampled every 10 ms from a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.kb, self._stop = pid, _rss_kb(pid), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.kb = max(self.kb, _rss_kb(self.pid))

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _curl(url: str, *extra: str) -> tuple[float, int]:
    """(bytes per second, bytes) as curl measured the download; the body goes nowhere."""
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{speed_download} %{size_download} %{http_code}", *extra, url],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.split()
    if len(out) != 3 or out[2] not in ("200", "206"):
        raise RuntimeError(f"download of {url} failed: {out}")
    return float(out[0]), int(out[1])


def _evict(path: Path) -> None:
    """The file out of the page cache (it is clean: written and synced), so the next download reads the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _check_cost(n: int) -> float:
    """Seconds one full check of a download's link takes (signature, expiry, file, build)."""
    links = ArtifactLinks(KEY, "https://honk.example.com")
    token = links.token(TASK, NAME, "ab" * 32, ttl_s=3600)
    t = time.perf_counter()
    for _ in range(n):
        links.check(token, NAME, "ab" * 32)
    return (time.perf_counter() - t) / n


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    runs = 3 if quick else 5
    sec = Section("deliver", "Delivery to a phone: an artifact through its signed link")
    started = time.perf_counter()
    if shutil.which("curl") is None:
        raise RuntimeError("the deliver benchmark needs curl")
    with scratch("deliver") as root:
        area = root / "artifacts" / TASK
        area.mkdir(parents=True)
        with open(area / NAME, "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1024 * 1024))
        size, sha = file_digest(area / NAME)
        shelf = DeliveryShelf(root / "artifacts")
        shelf.put(
            DeliveredApp(
                task_id=TASK, name=NAME, kind=ANDROID_APK, title="Bench", version="1", build="1", size=size, sha256=sha
            )
        )
        plain = root / "plain"
        plain.mkdir()
        os.link(area / NAME, plain / NAME)

        honk_port, plain_port = free_port(), free_port()
        links = ArtifactLinks(KEY, f"http://127.0.0.1:{honk_port}")
        honk_url = links.file_url(links.token(TASK, NAME, sha, ttl_s=3600), NAME)
        plain_url = f"http://127.0.0.1:{plain_port}/{NAME}"
        honk = _start(
            [sys.executable, "-m", "bench.deliver", "serve", str(root / "artifacts"), str(honk_port)],
            honk_url,
            root / "honk.log",
        )
        static = _start(
            [sys.executable, "-m", "http.server", str(plain_port), "--bind", "127.0.0.1", "--directory", str(plain)],
            plain_url,
            root / "static.log",
        )
        try:
            _curl(honk_url), _curl(plain_url)  # warm: the file in the page cache, both servers' first request done
            honk_idle, plain_idle = _rss_kb(honk.pid), _rss_kb(static.pid)
            honk_bps, plain_bps = [], []
            with _Peak(honk.pid) as honk_peak, _Peak(static.pid) as plain_peak:
                for _ in range(runs):  # alternating, so noise lands on both sides alike
                    honk_bps.append(_curl(honk_url)[0])
                    plain_bps.append(_curl(plain_url)[0])
            honk_cold, plain_cold = [], []
            for _ in range(max(1, runs // 2)):
                _evict(area / NAME)
                honk_cold.append(_curl(honk_url)[0])
                _evict(area / NAME)
                plain_cold.append(_curl(plain_url)[0])
            with _Peak(honk.pid) as slow_peak:
                slow_bps, slow_bytes = _curl(honk_url, "--limit-rate", SLOW_RATE, "--max-time", str(SLOW_S))
            head = []
            with httpx.Client() as client:
                for _ in range(200):
                    t = time.perf_counter()
                    client.head(honk_url)
                    head.append(time.perf_counter() - t)
        finally:
            for proc in (honk, static):
                proc.terminate()
                proc.wait(timeout=10)
    check_s = _check_cost(2000 if quick else 20000)
    h, p = median(honk_bps), median(plain_bps)
    grew = max(honk_peak.kb, slow_peak.kb) - honk_idle
    log(f"  100 MB: signed link {h / 1e6:.0f} MB/s, static server {p / 1e6:.0f} MB/s; RSS +{grew / 1024:.1f} MB")
    sec.rows = [
        Row(
            "Download of a 100 MB artifact (throughput, median)",
            f"{h / 1e6:.0f} MB/s",
            f"{p / 1e6:.0f} MB/s",
            f"{h / p:.2f}×",
            f"≥ {TARGET_RATIO}×",
            h / p >= TARGET_RATIO,
        ),
        Row(
            "The same, the file out of the page cache before each download (read from disk)",
            f"{median(honk_cold) / 1e6:.0f} MB/s",
            f"{median(plain_cold) / 1e6:.0f} MB/s",
            f"{median(honk_cold) / median(plain_cold):.2f}×",
        ),
        Row(
            "Server memory while it streams (RSS growth over idle: fast client, then a slow one)",
            f"+{grew / 1024:.1f} MB",
            f"+{(plain_peak.kb - plain_idle) / 1024:.1f} MB",
            target=f"< {FLAT_MB} MB (flat)",
            passed=grew < FLAT_MB * 1024,
        ),
        Row("Signed-link check per request (signature, expiry, file, build)", f"{check_s * 1e6:.1f} µs"),
        Row("A HEAD through the signed link, whole request (median, kept-alive)", f"{median(head) * 1e3:.2f} ms"),
    ]
    sec.setup = [
        f"A 100 MB file of random bytes, served to curl (`-o /dev/null`, its own `speed_download`) over loopback, "
        f"{runs} downloads per side, alternating, after one warm-up each (the file in the page cache). Cold: "
        f"{max(1, runs // 2)} per side, the file evicted (`posix_fadvise(DONTNEED)`) before each.",
        "Honk: the install router (`honk.web.install`) alone on uvicorn in a process of its own, the file "
        "behind its signed link (`/dl/<token>/app.apk`), streamed from disk in 256 KB reads, made in the event loop when the page cache holds them (`RWF_NOWAIT`) and on a thread when not (`honk.web.file_stream`). Baseline: Python's "
        "`http.server` in a process of its own serving the same file (a hard link). Caddy was not used: it is "
        "not installed here, and sendfile(2) measures the kernel rather than a file server in Python.",
        f"Memory: the server's RSS sampled every 10 ms during the fast downloads and during a slow one "
        f"(curl `--limit-rate {SLOW_RATE}` for {SLOW_S} s, {slow_bytes / 1e6:.0f} MB at {slow_bps / 1e6:.0f} MB/s): "
        "the growth over its idle RSS after the warm-up.",
        "Link check: `ArtifactLinks.check` (HMAC-SHA1 signature, expiry, file name, build digest) timed in a loop "
        "in this process; the HEAD is the whole request through uvicorn and the router (the file not read).",
    ]
    sec.seconds = time.perf_counter() - started
    return sec


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(Path(sys.argv[2]), int(sys.argv[3]))
