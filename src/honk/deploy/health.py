"""Whether a deploy is live: `[deploy] health` tried until it passes or `health_timeout` ends.

A URL is fetched by `curl` confined in the deploy phase's sandbox, never by the worker itself. The
sandbox's network namespace has no route anywhere but Honk's egress proxy, and the proxy is where
"host names only, public answers only" is enforced for every other phase: an IP literal, a name
whose DNS answer is loopback, private or link-local (Temporal, the key proxy, 169.254.169.254) is
refused there, with the one implementation the rest of Honk trusts. Fetching in-process with a copy
of those checks (`honk.network.address_problem`) would need its own pinning of the checked address
against DNS rebinding, and would run in the worker's namespace, where a missed case reaches
everything the worker can. The `[deploy]` parser refuses addresses before anything runs; the phase's
policy is asked again here, so a host the policy does not list is refused at once, not polled.

A command runs in the same sandbox (with the deploy phase's secret variables) and passes on exit 0.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from honk.domain import BlockReason, HealthCheck, HealthOutcome
from honk.network import EgressPolicy, Refused, normal_host
from honk.protocols import Launcher
from honk.verify.distill import distill

PROBE_S = 10.0  # one request's limit
FIRST_PAUSE_S, MAX_PAUSE_S = 1.0, 10.0  # between tries: often at first (a deploy is usually up soon), then less
BODY_CHARS = 300  # of an answer's body, in the outcome
# The refusals asking again cannot change: the policy is the phase's for the whole check. (A name that
# did not resolve may resolve later: it is tried again.)
FINAL: tuple[BlockReason, ...] = ("not_allowed", "ip_literal", "private_address", "port", "method")
REASON_WORDS: dict[str, str] = {
    "not_allowed": "the host is not listed for the deploy phase",
    "ip_literal": "it is an IP address; Honk allows host names only",
    "private_address": "the host's address is not public (loopback, private or link-local, like a cloud "
    "metadata address)",
    "port": "that port of the host is not allowed for the deploy phase",
    "method": "the method is not allowed",
    "unresolved": "the host did not resolve",
    "sni_mismatch": "the TLS server name did not match the host",
    "not_tls": "no TLS handshake",
}
# Fetches $1 through the proxy (every host, loopback too: NO_PROXY is emptied), at most $2 seconds,
# no redirects, http(s) only; prints the headers of every response (the proxy's refusal of a CONNECT
# among them), then the statuses and curl's exit code after the marker $3 (which the far side cannot
# guess, so no header it sends reads as one), then the body's start.
FETCH = (
    'body="${TMPDIR:-/tmp}/honk-health-body"; rm -f "$body"\n'
    'curl --silent --show-error --proto =http,https --max-redirs 0 --max-time "$2" --max-filesize 1048576 '
    '--user-agent honk-health --dump-header - --output "$body" '
    '--write-out "\\n$3 %{http_code} %{http_connect}\\n" -- "$1"\n'
    'echo "$3 exit $?"\n'
    'head -c 1000 "$body" 2>/dev/null\n'
)
_REFUSED = re.compile(r"^x-honk-refused:\s*([a-z_]+)\s*$", re.MULTILINE | re.IGNORECASE)
_CURL_ERROR = re.compile(r"^curl: \(\d+\) .*$", re.MULTILINE)


def policy_refusal(url: str, policy: EgressPolicy) -> str | None:
    """Why the phase's policy refuses the URL before any request is made (an address, a host it does not
    list), in words for the thread; None when the proxy may let it through (its DNS answer is checked
    there)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return f"{url!r} is not a URL"
    host = normal_host(parts.hostname or "") or (parts.hostname or "")
    decision = policy.at_request(host, port, "GET", parts.path or "/")
    if isinstance(decision, Refused):
        return f"refused by the egress policy: {decision.detail}{_fix(decision.reason)}"
    return None


def _fix(reason: BlockReason) -> str:
    if reason in ("not_allowed", "port"):
        return ' (list the host under [network] deploy = ["…"] in .honk.toml, or ask an admin to allow it)'
    return ""


def read_fetch(output: str, marker: str) -> tuple[bool, str, bool]:
    """What one fetch came to, from FETCH's output: (passed, the answer in words, refused for good)."""
    head, found, rest = output.partition(f"\n{marker} ")
    codes, _, after = rest.partition(f"\n{marker} exit ")
    if not found or len(codes.split()) != 2:
        return False, _curl_error(output) or "no answer", False
    code, connect = (int(c) if c.isdigit() else 0 for c in codes.split())
    body = after.partition("\n")[2]
    refused = _REFUSED.search(head)
    if refused is not None and 403 in (code, connect):
        reason = refused.group(1).lower()
        said = next((line for line in body.splitlines() if line.startswith("Honk's egress proxy refused")), "")
        # Plain HTTP carries the proxy's own words; a refused CONNECT, only its reason.
        detail = said.split(": ", 1)[1].rstrip(".") if ": " in said else REASON_WORDS.get(reason, reason)
        return False, f"refused by the egress proxy ({reason}): {detail}", reason in FINAL
    if code == 0:
        return False, _curl_error(head) or (f"HTTP {connect} from the proxy" if connect else "no answer"), False
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    answer = f"HTTP {code}" + (f": {first[:BODY_CHARS]}" if first else "")
    return 200 <= code < 300, answer, False


def _curl_error(output: str) -> str | None:
    found = _CURL_ERROR.search(output)
    return found.group(0) if found else None


async def check_health(
    check: HealthCheck,
    launcher: Launcher,
    policy: EgressPolicy,
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> HealthOutcome:
    """Tries `check` until it passes, the egress policy refuses it, or `check.timeout_s` ends (a try
    under way is given what is left). `env`: variables for a command check (the deploy phase's secrets)."""
    started = time.monotonic()
    deadline = started + check.timeout_s
    if check.url is not None and (refused := policy_refusal(check.url, policy)) is not None:
        return HealthOutcome(passed=False, answer=refused, refused=True)
    attempts, pause, answer = 0, FIRST_PAUSE_S, "not tried"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        attempts += 1
        if check.url is not None:
            passed, answer, final = await _fetch(launcher, check.url, min(PROBE_S, left), log)
        else:
            passed, answer, final = await _command(launcher, check.run or "", left, env, log)
        if passed or final:
            return HealthOutcome(
                passed=passed, attempts=attempts, answer=answer, refused=final, duration_s=time.monotonic() - started
            )
        # Bounded polling: production tells nobody when it is up.
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, MAX_PAUSE_S)
    return HealthOutcome(passed=False, attempts=attempts, answer=answer, duration_s=time.monotonic() - started)


async def _fetch(launcher: Launcher, url: str, limit_s: float, log: Path | None) -> tuple[bool, str, bool]:
    seconds, marker = f"{max(1.0, limit_s):.0f}", f"honk-{secrets.token_hex(8)}"
    res = await launcher.run(
        ["bash", "-c", FETCH, "honk-health", url, seconds, marker],
        timeout_s=limit_s + 5,
        env={"NO_PROXY": "", "no_proxy": ""},
        log=log,
    )
    if res.timed_out:
        return False, f"no answer within {seconds} s", False
    return read_fetch(res.output, marker)


async def _command(
    launcher: Launcher, command: str, limit_s: float, env: Mapping[str, str] | None, log: Path | None
) -> tuple[bool, str, bool]:
    res = await launcher.run(["bash", "-c", command], timeout_s=limit_s, env=env, log=log)
    if res.ok:
        return True, "exit 0", False
    said = "timed out" if res.timed_out else f"exit {res.exit_code}"
    return False, f"{said}: {distill(res.output, res.exit_code, res.timed_out, max_lines=10, max_chars=1000)}", False
