"""The forge benchmark's load client, run in its own process (`python -m bench.forge_load …`) so that its
sending and timing do not share an interpreter with the server or the bench's Temporal worker.

Open loop: request i is sent at start + i / rate whatever the earlier ones are doing, over one
httpx.AsyncClient with keep-alive. `hooks`: each request a signed GitHub `issue_comment` delivery
(the vendored example filled in by honk.testing.webhooks, a fresh `X-GitHub-Delivery` each), built before
the clock starts; `healthz`: `GET /healthz`. Prints one JSON object: the warm-up's and the burst's
results, each [latency from the scheduled time, how late it was sent, status, delivery id].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import httpx

from honk.testing.webhooks import Delivery, github_delivery, github_payload

REPO = "acme/player"
TIMEOUT_S = 10.0  # GitHub's own: a delivery not answered within it is failed


def deliveries(url: str, secret: str, n: int, first: int) -> list[Delivery]:
    out = []
    for i in range(first, first + n):
        payload = github_payload(
            "issue_comment.created",
            repo=REPO,
            base_url="https://github.com",
            sender="ada",
            number=1 + i % 50,
            text=f"@honk please look at the totals ({i})",
            is_pull=bool(i % 2),
        )
        out.append(github_delivery(f"{url}/hooks/github", secret, "issue_comment", payload))
    return out


async def burst(url: str, kind: str, secret: str, rate: float, n: int, warmup: int) -> dict[str, list]:
    if kind == "hooks":
        warm, timed = deliveries(url, secret, warmup, 0), deliveries(url, secret, n, warmup)
        reqs = [("POST", d.url, d.body, d.headers, d.delivery_id) for d in warm + timed]
    else:
        reqs = [("GET", f"{url}/healthz", None, None, "") for _ in range(warmup + n)]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as http:

        async def send(req: tuple) -> int | str:
            method, target, body, headers, _ = req
            try:
                return (await http.request(method, target, content=body, headers=headers)).status_code
            except httpx.HTTPError as e:
                return type(e).__name__

        warm_results = []
        for req in reqs[:warmup]:  # one at a time: a connection, the server's code paths; closed loop
            t = time.perf_counter()
            status = await send(req)
            warm_results.append([time.perf_counter() - t, 0.0, status, req[4]])
        start = time.perf_counter() + 0.05

        async def one(i: int, req: tuple) -> list:
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            sent = time.perf_counter()
            status = await send(req)
            return [time.perf_counter() - at, sent - at, status, req[4]]

        results = await asyncio.gather(*(one(i, r) for i, r in enumerate(reqs[warmup:])))
    return {"warmup": warm_results, "results": list(results)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.forge_load")
    ap.add_argument("url")
    ap.add_argument("kind", choices=["hooks", "healthz"])
    ap.add_argument("--secret", default="")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    out = asyncio.run(burst(args.url, args.kind, args.secret, args.rate, args.n, args.warmup))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
