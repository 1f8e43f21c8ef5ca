"""Slack benchmark: signed event → HTTP 200 latency under a steady 50 req/s, and mention → first thread reply.

A real Temporal dev server, a real `honk server` and one `honk worker` (spawned processes, loopback
only) with Slack configured against `FakeSlack` (a loopback Slack Web API recording every call with
its arrival time). Events are signed exactly as Slack signs them and POSTed to `/slack/events`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Row, Section, fmt_s, median, percentile, scratch
from bench.orchestration import DEPLOYMENT_SETTINGS, _calc_fixture, _utc
from honk.testing.fake_slack import FakeSlack, event_body, mention_event, message_event, sign
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import HonkStack, TemporalDevServer
from honk.workflow.policy import task_id_for

SECRET = "bench-signing-secret"
RATE = 50.0  # requests per second, open loop
TARGET_ACK_P99_S = 0.050
TARGET_REPLY_P50_S = 1.0
POLL_S = 0.005
STALL_S = 0.025  # answers slower than this, in a row, make a "slow stretch"
REPLY_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
# The mix of the 50 req/s stream, in fifths: what a busy workspace sends an app that is subscribed to
# channel messages (most of it chatter the app must ack and ignore) plus Slack's retries.
MIX = (
    "channel message",
    "channel message",
    "channel message",
    "reply in a non-task thread",
    "retry of a `@honk help` mention",
)


@dataclass
class Req:
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] | None = None


@dataclass
class Result:
    latency: float  # from the scheduled send time to the response
    lag: float  # how late the client actually sent it
    status: int | str


def _signed(envelope: dict, retry: int | None = None) -> Req:
    body = event_body(envelope)
    headers = {"Content-Type": "application/json", **sign(SECRET, body)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return Req("POST", "/slack/events", body, headers)


def _event_stream(n: int, help_mention: dict) -> list[tuple[str, Req]]:
    """n (kind, signed event) in the MIX order; none of them starts a task."""
    out = []
    for i in range(n):
        kind = MIX[i % len(MIX)]
        if kind == "channel message":
            req = _signed(message_event(f"lunch at noon? ({i})", user="U2", channel="C2"))
        elif kind == "reply in a non-task thread":
            req = _signed(message_event(f"sounds good ({i})", user="U2", channel="C2", thread_ts="1690000000.000001"))
        else:
            req = _signed(help_mention, retry=1 + i % 3)
        out.append((kind, req))
    return out


async def _open_loop(url: str, reqs: list[Req], rate: float, warmup: list[Req]) -> list[Result]:
    """Sends `reqs` at `rate` per second, each at its scheduled time whatever the earlier ones are doing."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        for w in warmup:  # opens a connection, warms the server's code paths; untimed
            await http.request(w.method, w.path, content=w.content, headers=w.headers)
        loop_start = time.perf_counter() + 0.05

        async def one(i: int, req: Req) -> Result:
            at = loop_start + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            sent = time.perf_counter()
            try:
                status: int | str = (
                    await http.request(req.method, req.path, content=req.content, headers=req.headers)
                ).status_code
            except httpx.HTTPError as e:
                status = type(e).__name__
            return Result(time.perf_counter() - at, sent - at, status)

        return list(await asyncio.gather(*[one(i, r) for i, r in enumerate(reqs)]))


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _burst(stack: HonkStack, reqs: list[Req], warmup: list[Req]) -> tuple[list[Result], float, float]:
    """(results, wall s, honk server CPU s) of one open-loop run."""
    cpu0, t0 = _cpu_s(stack.server.pid), time.perf_counter()
    results = asyncio.run(_open_loop(stack.url, reqs, RATE, warmup))
    return results, time.perf_counter() - t0, _cpu_s(stack.server.pid) - cpu0


def _wait_reply(fake: FakeSlack, ts: str, after: float = 0.0) -> float:
    """FakeSlack's arrival time (time.time()) of the first chat.postMessage into thread `ts`."""
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        with fake._lock:  # noqa: SLF001 - a cheap scan of the recorded calls, every 5 ms
            for c in fake.calls:
                if c.method == "chat.postMessage" and c.args.get("thread_ts") == ts and c.at >= after:
                    return c.at
        time.sleep(POLL_S)
    raise RuntimeError(f"no reply in thread {ts} within {REPLY_TIMEOUT_S}s")


@dataclass
class Mention:
    ack: float  # POST → HTTP 200
    recorded: float  # POST → the task row's created_at (the listener got as far as TaskService.submit)
    reply: float  # POST → FakeSlack received the chat.postMessage into the thread


def _mention_reply(stack: HonkStack, fake: FakeSlack, text: str) -> Mention:
    """One fresh task-starting mention, timed on the wall clock that FakeSlack and Honk's store use too."""
    return _timed_mention(stack, fake, mention_event(f"<@UHONK> {text} repo=calc", user="U1"))


def _timed_mention(stack: HonkStack, fake: FakeSlack, envelope: dict) -> Mention:
    """Posts a signed mention; times its HTTP 200, the first reply in its thread and its task's record."""
    event = envelope["event"]
    thread = event.get("thread_ts") or event["ts"]
    req = _signed(envelope)
    t0 = time.time()
    r = stack.http.post(req.path, content=req.content, headers=req.headers)
    acked = time.time()
    if r.status_code != 200:
        raise RuntimeError(f"mention answered {r.status_code}: {r.text[:200]}")
    replied = _wait_reply(fake, thread, after=t0)
    task_id = task_id_for(f"slack:{event['channel']}:{event['ts']}")
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while stack.http.get(f"/api/tasks/{task_id}").status_code != 200:  # recorded after any downloads
        if time.monotonic() > deadline:
            raise RuntimeError(f"the mention's task {task_id} was not recorded")
        time.sleep(POLL_S)
    return Mention(acked - t0, _utc(stack.task(task_id).created_at).timestamp() - t0, replied - t0)


THREAD_MESSAGES = 50


def _screenshot(seed: int) -> bytes:
    """A phone screenshot's size and weight: 1170×2532, partly noise so it compresses like a real one."""
    import io

    from PIL import Image

    img = Image.new("RGB", (1170, 2532), (240, 240, 245))
    img.paste(Image.effect_noise((1170, 600), 40 + seed).convert("RGB"), (0, 300))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _discussion(fake: FakeSlack, channel: str) -> str:
    """A thread of THREAD_MESSAGES messages where a bug was discussed; returns its root's ts."""
    root = fake.say(channel, "U2", "The playlist page crashes when a playlist is empty, see the customer report.")
    for i in range(THREAD_MESSAGES - 1):
        line = f"Message {i}: I can reproduce it on my phone; the stack trace points at render_playlist. " * 3
        fake.say(channel, "U1" if i % 2 else "U2", line.strip(), thread_ts=root)
    return root


def _prompt_rows() -> list[Row]:
    """What a 50-message thread costs in the agent's prompt: the messages' own text (baseline), against
    the quoted file (authors, times, the head line) fenced into the prompt, bounded at 16,000 characters."""
    from pathlib import Path

    from honk import attachments
    from honk.agents import prompt
    from honk.domain import AttachedFile, Attachment
    from honk.slack import thread

    rows = []
    for words, repeat in (("short", 3), ("long", 12)):
        line = "I can reproduce it on my phone; the stack trace points at render_playlist. " * repeat
        messages = [{"ts": f"{1700000000 + i}.000100", "user": f"U{i % 2 + 1}", "text": line} for i in range(50)]
        raw = sum(len(m["text"]) for m in messages)
        quoted = thread.quote(messages, "1800000000.000100", lambda uid: {"U1": "Ana", "U2": "Bo"}[uid])
        assert quoted is not None
        kept = Attachment(id="x", name=thread.NAME, kind="text", media_type="text/plain", size=len(quoted.text))
        laid = AttachedFile(
            attachment=kept, path=Path("/home/attachments") / thread.NAME, extract=attachments.extract(quoted.text)
        )
        in_prompt = len(prompt.attachments([laid], images_inline=True))
        rows.append(
            Row(
                f"Prompt text from a 50-message thread ({words}: {len(line)} chars a message; {quoted.used} quoted)",
                f"{in_prompt:,} chars",
                f"{raw:,} chars",
                f"{in_prompt / raw:.2f}×",
            )
        )
    return rows


def _thread_mention_reply(stack: HonkStack, fake: FakeSlack, text: str, images: list[bytes], n: int) -> Mention:
    """A mention under a 50-message discussion with two screenshots: the first reply must not wait for the
    thread or the downloads (they come after it)."""
    channel = f"CT{n}"
    root = _discussion(fake, channel)
    files = [fake.share_file(f"screenshot-{i}.png", img, "image/png") for i, img in enumerate(images)]
    later = f"{1750000000 + n}.000100"  # said after the discussion (FakeSlack's own messages are stamped later)
    envelope = mention_event(
        f"<@UHONK> {text} repo=calc", user="U1", channel=channel, thread_ts=root, files=files, ts=later
    )
    return _timed_mention(stack, fake, envelope)


def _api_submit(stack: HonkStack, text: str) -> float:
    t0 = time.perf_counter()
    stack.ask("calc", text)
    return time.perf_counter() - t0


def _summary(results: list[Result]) -> tuple[list[float], int, Counter]:
    ok = [r.latency for r in results if r.status == 200]
    bad = Counter(str(r.status) for r in results if r.status != 200)
    return ok, sum(bad.values()), bad


def _stats(results: list[Result]) -> list[str]:
    """n, p50, p99, max of the 200s, and the number of other answers."""
    ok, bad, _ = _summary(results)
    if not ok:
        return [str(len(results)), "—", "—", "—", str(bad)]
    return [str(len(results)), fmt_s(median(ok)), fmt_s(percentile(ok, 99)), fmt_s(max(ok)), str(bad)]


def _stretches(results: list[Result], over: float) -> list[tuple[int, int, float, float]]:
    """Runs of consecutive answers slower than `over`: (first index, length, slowest, the first's send lag).

    A stall of the server shows as a run whose latencies fall by one send interval per request, with the
    sender on time; when the sender was late too, the whole machine (this process included) was busy.
    """
    runs: list[tuple[int, int, float, float]] = []
    i = 0
    while i < len(results):
        if results[i].latency <= over:
            i += 1
            continue
        j = i
        while j < len(results) and results[j].latency > over:
            j += 1
        runs.append((i, j - i, max(r.latency for r in results[i:j]), results[i].lag))
        i = j
    return runs


@contextmanager
def slack_stack(root: Path, files: dict[str, str]) -> Iterator[tuple[HonkStack, FakeSlack]]:
    """A real Honk (Temporal dev server, server, worker) with Slack pointed at a fake Slack API and the
    calc repo added: what the Slack and load benchmarks measure."""
    fake = FakeSlack().start()
    fake.add_user("U1", "ana@example.com", "Ana")
    fake.add_user("U2", "bo@example.com", "Bo")
    temporal = TemporalDevServer(root / "temporal")
    try:
        stack = HonkStack(
            root / "honk",
            temporal.address,
            slack_bot_token="xoxb-bench-token",
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            **DEPLOYMENT_SETTINGS,
        )
        try:
            stack.add_repo("calc", RemoteRepo(root / "remote", files).url)
            yield stack, fake
        finally:
            stack.stop()
    finally:
        temporal.stop()
        fake.stop()


def run(quick: bool = False, log=print) -> Section:  # noqa: ANN001 - a print-like callable
    n_events, n_mentions = (100, 3) if quick else (500, 10)
    sec = Section("slack", "Slack front door: event ack and first reply (real stack, fake Slack API)")
    started = time.perf_counter()
    files, text = _calc_fixture()
    with scratch("slack") as root:
        with slack_stack(root, files) as (stack, fake):
            # 1. Ack latency at a steady 50 req/s: /healthz first (the baseline), then signed events.
            help_mention = mention_event("<@UHONK> help", user="U2", channel="C2")
            health = [Req("GET", "/healthz") for _ in range(n_events)]
            h_res, h_wall, h_cpu = _burst(stack, health, health[:10])
            log(
                f"  GET /healthz x{n_events} at {RATE:.0f}/s: p50 {fmt_s(median(_summary(h_res)[0]))}, "
                f"p99 {fmt_s(percentile(_summary(h_res)[0], 99))}"
            )
            kinds, events = zip(*_event_stream(n_events, help_mention), strict=True)
            warm = [_signed(help_mention)] + [r for _, r in _event_stream(4, help_mention)]
            calls_before = len(fake.calls)
            e_res, e_wall, e_cpu = _burst(stack, list(events), warm)
            e_ok, e_err, e_bad = _summary(e_res)
            log(
                f"  signed events x{n_events} at {RATE:.0f}/s: p50 {fmt_s(median(e_ok) if e_ok else None)}, "
                f"p99 {fmt_s(percentile(e_ok, 99) if e_ok else None)}, errors {e_err}"
            )
            # The listeners run after the ack; let the last ones finish before reading what they did.
            quiet = time.monotonic() + 2.0
            while time.monotonic() < quiet:
                time.sleep(0.1)
            burst_calls = Counter(c.method for c in fake.calls[calls_before:])
            help_replies = [
                c for c in fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == help_mention["event"]["ts"]
            ]

            # 2. Mention → first thread reply, each fresh mention starting a real task; the
            #    baseline, `POST /api/tasks` (the same submission without Slack), interleaved.
            cold = _mention_reply(stack, fake, text)  # first users.info, first workflow start
            log(f"  first mention (cold): ack {fmt_s(cold.ack)}, reply {fmt_s(cold.reply)}")
            mentions, submits = [], []
            for _ in range(n_mentions):
                mentions.append(_mention_reply(stack, fake, text))
                submits.append(_api_submit(stack, text))
            replies = [m.reply for m in mentions]
            log("  mention → reply: " + ", ".join(fmt_s(x) for x in replies))
            # 3. The phone's case: under a 50-message discussion, with two screenshots.
            images = [_screenshot(0), _screenshot(1)]
            in_thread = [_thread_mention_reply(stack, fake, text, images, i) for i in range(n_mentions)]
            log("  thread mention → reply: " + ", ".join(fmt_s(m.reply) for m in in_thread))
            log("  POST /api/tasks: " + ", ".join(fmt_s(x) for x in submits))
            server_log = (stack.logs / "server.log").read_text(errors="replace")

    h_ok, h_err, _ = _summary(h_res)
    h50, h99 = median(h_ok), percentile(h_ok, 99)
    e50, e99 = (median(e_ok), percentile(e_ok, 99)) if e_ok else (float("nan"), float("nan"))
    r50, s50 = median(replies), median(submits)
    lag = max(r.lag for r in e_res + h_res)
    mix = Counter(MIX)
    sec.setup = [
        "One Temporal dev server, one `honk server`, one `honk worker` on loopback (settings as `honk up` ships "
        "them), Slack configured with a signing secret and its Web API pointed at `FakeSlack` "
        "(honk.testing.fake_slack, a loopback server in this process recording each call's arrival time).",
        f"Ack latency: {n_events} requests at a steady {RATE:.0f}/s, open loop (each sent at its scheduled time by "
        "an httpx.AsyncClient with keep-alive, not waiting for earlier answers), latency counted from the "
        "scheduled time. Baseline: the same number of `GET /healthz` at the same rate, just before.",
        "Event mix (signed as Slack signs, real bolt verification and dispatch; none starts a task): "
        + ", ".join(f"{k} {v / len(MIX):.0%}" for k, v in mix.items())
        + ". Channel messages are what an app subscribed to `message.channels` gets most; retries carry "
        "`X-Slack-Retry-Num` and the original event_id, so the de-duplication path runs.",
        f"Event → first reply: {n_mentions} fresh `@honk {text} repo=calc` mentions (distinct ts and event_id, "
        "each starting a real task on the tests' calc repo), one after another; time from sending the POST to "
        "FakeSlack receiving the `chat.postMessage` into that thread. One untimed cold mention first "
        "(first `users.info`, first workflow start). Baseline: `POST /api/tasks` (the same submission "
        "without Slack), interleaved with the mentions. Tasks are left running; the stack is stopped at the end.",
        f"Then {n_mentions} mentions each under a fresh {THREAD_MESSAGES}-message discussion with two 1170×2532 "
        f"PNG screenshots ({sum(len(i) for i in images) / 1e6:.1f} MB together) shared with it; baseline: the plain "
        "mention above. The reply must not wait for `conversations.replies` or the downloads.",
    ]
    sec.rows = [
        Row(f"Signed event → HTTP 200 at {RATE:.0f}/s, p50", fmt_s(e50), fmt_s(median(h_ok)), f"{e50 / h50:.1f}×"),
        Row(
            f"Signed event → HTTP 200 at {RATE:.0f}/s, p99",
            fmt_s(e99),
            fmt_s(h99),
            f"{e99 / h99:.1f}×",
            f"< {fmt_s(TARGET_ACK_P99_S)}",
            e_err == 0 and e99 < TARGET_ACK_P99_S,
        ),
        Row(
            "… p99 from the actual send (sender lateness left out)",
            fmt_s(percentile([r.latency - r.lag for r in e_res if r.status == 200], 99)) if e_ok else "—",
            fmt_s(percentile([r.latency - r.lag for r in h_res if r.status == 200], 99)),
        ),
        Row(f"… non-200 answers of {n_events}", str(e_err) + (f" ({dict(e_bad)})" if e_err else ""), str(h_err)),
        Row(
            "… honk server CPU during the burst",
            f"{e_cpu:.2f} s ({e_cpu / n_events * 1000:.1f} ms/event)",
            f"{h_cpu:.2f} s",
            f"{e_cpu / h_cpu:.1f}×" if h_cpu > 0 else "—",
        ),
        Row(
            "Mention → first thread reply, p50",
            fmt_s(r50),
            fmt_s(s50),
            f"{r50 / s50:.1f}×",
            f"< {fmt_s(TARGET_REPLY_P50_S)}",
            r50 < TARGET_REPLY_P50_S,
        ),
        Row("Mention → first thread reply, max", fmt_s(max(replies)), fmt_s(max(submits))),
        Row(
            f"Mention in a {THREAD_MESSAGES}-message thread with two screenshots → first reply, p50",
            fmt_s(median([m.reply for m in in_thread])),
            fmt_s(r50),
            f"{median([m.reply for m in in_thread]) / r50:.1f}×",
            f"< {fmt_s(TARGET_REPLY_P50_S)}",
            median([m.reply for m in in_thread]) < TARGET_REPLY_P50_S,
        ),
        Row(
            "… its task recorded (thread read, screenshots fetched and kept), p50",
            fmt_s(median([m.recorded for m in in_thread])),
        ),
        *_prompt_rows(),
        Row("… its HTTP 200, p50", fmt_s(median([m.ack for m in mentions]))),
        Row("… the cold first mention: HTTP 200 / reply", f"{fmt_s(cold.ack)} / {fmt_s(cold.reply)}"),
    ]
    sec.notes.append(
        f"The latest send was {fmt_s(lag)} after its slot; the event burst took "
        f"{e_wall:.1f} s, the healthz burst {h_wall:.1f} s. Slack API calls the {n_events} events caused: "
        + (", ".join(f"{m} ×{n}" for m, n in burst_calls.most_common()) or "none")
        + f"; replies to the `@honk help` mention and its {mix[MIX[-1]] * n_events // len(MIX)} retries: "
        f"{len(help_replies)} (exactly one is right)."
    )
    by_kind: dict[str, list[Result]] = {}
    for kind, res in zip(kinds, e_res, strict=True):
        by_kind.setdefault(kind, []).append(res)
    sec.tables.append(
        (
            "Ack latency by kind of event (same burst):",
            ["Event", "n", "p50", "p99", "max", "non-200"],
            [[k, *_stats(rs)] for k, rs in by_kind.items()],
        )
    )
    steps = [
        ("POST sent → task recorded (ack, bolt dispatch, de-dup, user, store)", [m.recorded for m in mentions]),
        (
            "task recorded → reply at Slack (workflow start, `chat.postMessage`)",
            [m.reply - m.recorded for m in mentions],
        ),
    ]
    sec.tables.append(
        (
            f"Where a mention's reply time goes ({n_mentions} mentions; the store's `created_at` against "
            "FakeSlack's arrival time, one wall clock):",
            ["Step", "p50", "max"],
            [[name, fmt_s(median(xs)), fmt_s(max(xs))] for name, xs in steps],
        )
    )
    slow = sorted(_stretches(e_res, STALL_S), key=lambda r: -r[2])
    h_slow = _stretches(h_res, STALL_S)
    if slow:
        sec.tables.append(
            (
                f"Slowest stretches of consecutive event answers over {fmt_s(STALL_S)} ({len(slow)} in the event "
                f"burst, {len(h_slow)} in the healthz burst; a server stall shows as answers falling by "
                f"{fmt_s(1 / RATE)} per request with the sender on time):",
                ["Starts at", "Requests", "Slowest", "Sender late by (first request)"],
                [[f"{i / RATE:.2f} s", str(n), fmt_s(worst), fmt_s(lag0)] for i, n, worst, lag0 in slow[:5]],
            )
        )
    errors = [line for line in server_log.splitlines() if "Traceback" in line or "ERROR" in line]
    if errors:
        sec.notes.append(f"The server logged {len(errors)} error line(s); first: `{errors[0][:200]}`")
    sec.seconds = time.perf_counter() - started
    return sec
