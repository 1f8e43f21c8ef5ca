"""Schemathesis against the HTTP API's own OpenAPI document, served by a real stack: no 5xx, every refusal clear.

A real `honk server` + `honk worker` (anonymous mode, so writes are allowed) with real repos and a real task.
Every operation in the server's /openapi.json gets schemathesis' coverage cases (boundary and invalid values of
every parameter and body field, unexpected methods), a sweep of hostile values (NUL, lone surrogates, huge
integers, over-long names, `..`) through every field of one valid request, and a bounded number of
Hypothesis-generated cases, valid and invalid, with hostile values mixed in by schemathesis hooks. Each request
is also sent naming the real task / repo / remote instead of the generated one, so the other generated fields
get past "no such task" and reach the code behind it.

For each answer: no 5xx, and no unhandled exception in the server's log either (a stream that breaks after
its headers went out shows the client a 200); every 4xx is a JSON object whose `detail` is a non-empty
sentence; and the answer matches the document where schemathesis can check (status code, content type, body).
Generation is derandomized and coverage cases are deterministic: CI sends the same requests every run.

(schemathesis' pytest loader, `schemathesis.pytest.from_fixture`, does not run under pytest 9 — it sets
`request.node._nodeid` — so the operations are driven here with schemathesis' public strategies and checks.)
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from honk.domain import TaskState
from repos import DIRECT_FIX, calc_files

REQUEST_TIMEOUT_S = 20
EVENTS = "/api/tasks/{task_id}/events"
# Generated cases per operation, on top of its coverage cases (all of them: a few dozen per operation).
# Submitting a task starts a real workflow, so that operation gets fewer. The whole file: ~90 s on 2 cores.
FUZZ_EXAMPLES = 30
# Starting a task costs a workflow; the repo's admin routes (secrets, allowed hosts) and a preview's links
# have their own hostile-input stories (tests/scenarios/test_repo_secrets.py, test_network_allowances.py,
# tests/web/test_preview_links.py), and so do deploys and reverts (tests/web/test_delivery_web.py).
FEWER = {("POST", "/api/tasks"): 10} | {
    (method, path): 15
    for method, path in (
        ("PUT", "/api/repos/{repo}/secrets/{name}"),
        ("GET", "/api/repos/{repo}/secrets"),
        ("DELETE", "/api/repos/{repo}/secrets/{name}"),
        ("POST", "/api/repos/{repo}/network/allow"),
        ("GET", "/api/repos/{repo}/network"),
        ("DELETE", "/api/repos/{repo}/network/allow/{host}"),
        ("POST", "/api/tasks/{task_id}/preview/link"),
        ("POST", "/api/tasks/{task_id}/preview/revoke"),
        ("POST", "/api/tasks/{task_id}/deploy"),
        ("POST", "/api/tasks/{task_id}/revert"),
        ("GET", "/api/repos/{repo}/deploys"),
    )
}
MAX_REPORTED = 3  # distinct failures reported per operation and phase

# Values that break servers. Hooks swap one of them into a generated parameter or body field now and then.
HOSTILE = [
    "\x00",
    "a\x00b",
    "main\x00",
    "-1",
    "²",
    "٣",
    "1e3",
    "../..",
    "..",
    "/",
    "%00",
    "%2e%2e%2f",
    "\\",
    " ",
    "\n",
    "-x",
    "--upload-pack=touch /tmp/x",
    "🦆",
    "\u202e",
    "x" * 5000,
    2**63,
    10**30,
    -(2**63) - 1,
    "99999999999999999999999",
]
HOSTILE_PATH = [v for v in HOSTILE if "/" not in str(v)]  # a `/` addresses another route (see below)
HOSTILE_BODY = [*HOSTILE, "\ud800"]  # a lone surrogate: JSON can carry it (escaped), a URL cannot
HOSTILE_HEADERS = [
    v
    for v in HOSTILE
    if isinstance(v, str)
    and v.isprintable()
    and len(v) < 100
    and not v.startswith(" ")
    and v.encode("latin-1", "ignore").decode("latin-1") == v
]
EXCEPTION_LINE = re.compile(r"[\w.]+(Error|Exception|Group|Exit|Interrupt)\b")
ANSWERS: defaultdict[str, Counter[int]] = defaultdict(Counter)  # operation -> status -> count


def short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def refusal_is_clear(ctx, response, case):  # noqa: ANN001, ANN201 - schemathesis' check signature
    """Every 4xx says why, in words: a JSON object with a non-empty `detail` string."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":  # a HEAD answer has no body
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} refusal is not JSON: {short(repr(response.content))}") from None
    detail = body.get("detail") if isinstance(body, dict) else None
    assert isinstance(detail, str) and detail.strip(), (
        f"{response.status_code} refusal without a readable `detail`: {short(repr(response.content))}"
    )
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    refusal_is_clear,
]


def server_crashes(server_log: Path) -> list[str]:
    """The distinct unhandled exceptions in the server's log, each as its Honk frames and its last line. This
    catches what no status code shows: a stream that broke after its headers went out answered a clean 200."""
    crashes: dict[str, int] = {}
    for record in server_log.read_text("utf-8", "replace").split("Exception in ASGI application")[1:]:
        lines = [line.strip(" |") for line in record.splitlines() if line.strip(" |")]
        frames = list(dict.fromkeys(line for line in lines if "/src/honk/" in line))
        last = next((x for x in reversed(lines) if EXCEPTION_LINE.match(x)), lines[-1] if lines else "?")
        key = "\n".join([*frames[-3:], short(last, 200)])
        crashes[key] = crashes.get(key, 0) + 1
    return [f"{n} time(s):\n{key}" for key, n in crashes.items()]


class Real:
    """Real things on the stack, swapped into generated requests so they get past "no such task"."""

    def __init__(self, task_id: str, remote_url: str) -> None:
        self.task_id = task_id
        # Bodies that succeed. Tasks go to a repo whose tasks fail at once (bounded work per submission), and
        # the fixed request_id makes a resubmission return the same task.
        self.good_bodies = {
            "/api/repos": {"name": "fuzzed", "url": remote_url, "branch": "main"},
            "/api/tasks": {
                "repo": "broken",
                "text": "make add() add",
                "agent": "scripted",
                "model": "m",
                "request_id": "fuzz-1",
                "requested_by": "fuzz@example.com",
            },
        }
        # Which of their fields to swap into a generated body together (the others stay generated).
        self.overlays = {"/api/repos": [{"name"}, {"name", "url"}, {"name", "branch"}], "/api/tasks": [{"repo"}]}

    def variants(self, case: schemathesis.Case) -> list[schemathesis.Case]:
        """The generated request, and the same request naming the real task / repo / remote instead."""
        out = [case]
        if "task_id" in (case.path_parameters or {}):
            out.append(_derive(case, path_parameters={**case.path_parameters, "task_id": self.task_id}))
        if case.method.upper() == "POST" == case.operation.method.upper() and isinstance(case.body, dict):
            good = self.good_bodies.get(case.operation.path, {})
            out += [
                _derive(case, body={**case.body, **{k: good[k] for k in keys}})
                for keys in self.overlays.get(case.operation.path, [])
            ]
        return out


def _derive(case: schemathesis.Case, **changes: object) -> schemathesis.Case:
    derived = case.derive()
    for name, value in changes.items():
        setattr(derived, name, value)
    return derived


def send(case: schemathesis.Case) -> None:
    """Sends one request to the live server and checks its answer."""
    if case.path == EVENTS:  # the stream would follow a live task until it ends: read what is stored instead
        case.query = {**(case.query or {}), "follow": "false"}
    try:
        response = case.call(timeout=REQUEST_TIMEOUT_S)
    except UnicodeEncodeError:
        # Schemathesis re-checks a case against the schema before sending it, and its validator cannot
        # measure a lone surrogate's length (a `maxLength` field): the server is still asked, directly, and
        # must refuse it cleanly; its answer is not checked against the schema (the client cannot).
        code = _sent_directly(case)
        ANSWERS[f"{case.operation.method.upper()} {case.operation.path}"][code] += 1
        assert code < 500, f"{case.method} {short(case.formatted_path, 150)} answered {code} to a lone surrogate"
        return
    ANSWERS[f"{case.operation.method.upper()} {case.operation.path}"][response.status_code] += 1
    what = f"{case.method} {short(case.formatted_path, 150)} answered {response.status_code}"
    assert response.status_code < 500, (
        f"{what}: {short(response.text)}\nreproduce: {short(case.as_curl_command(), 600)}"
    )
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseExceptionGroup as e:  # schemathesis' FailureGroup: an assertion, so Hypothesis shrinks it
        raise AssertionError(short(f"{what}: {e}", 3000)) from None


def _sent_directly(case: schemathesis.Case) -> int:
    """`case` sent without the client's schema check, its JSON body escaped as JSON allows; the status."""
    body = json.dumps(case.body).encode() if case.body is not None else None
    headers = {**(case.headers or {}), "content-type": case.media_type or "application/json"}
    url = f"{case.operation.base_url or ''}".rstrip("/") + case.formatted_path
    return httpx.request(
        case.method, url, params=case.query, headers=headers, content=body, timeout=REQUEST_TIMEOUT_S
    ).status_code


class Once:
    """One run's requests, each sent once. The variants of different cases often come out the same request
    (the real task's id in place of two generated ones; a hostile value's request with a good field swapped
    back in is the good request again): an identical request is not sent again, its check's outcome is
    replayed (the same assertion, so Hypothesis sees the same failure when it shrinks)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, AssertionError | None] = {}

    def send(self, case: schemathesis.Case) -> None:
        key = repr(
            (case.method.upper(), case.path, case.path_parameters, case.query, case.headers, case.cookies)
            + (case.media_type, case.body)
        )
        if key not in self.outcomes:
            try:
                send(case)
            except AssertionError as e:
                self.outcomes[key] = e
                raise
            self.outcomes[key] = None
        elif (failure := self.outcomes[key]) is not None:
            raise failure


def mix_in(values: list[object]) -> Callable:
    """A schemathesis flatmap hook: the generated container, or it with one field swapped for a hostile value."""

    def flatmap(context, container):  # noqa: ANN001, ANN202 - schemathesis' hook
        keys = sorted(
            k
            for k, v in (container.items() if isinstance(container, Mapping) else ())
            if isinstance(v, str | int) and not isinstance(v, bool)
        )
        if not keys:
            return st.just(container)
        swapped = st.tuples(st.sampled_from(keys), st.sampled_from(values)).map(lambda kv: {**container, kv[0]: kv[1]})
        return st.one_of(st.just(container), swapped)

    return flatmap


def load_schema(url: str) -> schemathesis.BaseSchema:
    """The running server's OpenAPI document, as schemathesis sees it."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.hook("flatmap_path_parameters")(mix_in(HOSTILE_PATH))
    schema.hook("flatmap_query")(mix_in(HOSTILE))
    schema.hook("flatmap_headers")(mix_in(HOSTILE_HEADERS))
    schema.hook("flatmap_body")(mix_in(HOSTILE_BODY))

    @schema.hook
    def filter_path_parameters(context, path_parameters):  # noqa: ANN001, ANN202 - schemathesis' hook
        """Starlette routes on the decoded path: a parameter with a `/` in it addresses another route (or the
        trailing-slash redirect to one, `/api/tasks/%2F` -> `/api/tasks`), not this operation."""
        return not any("/" in unquote(str(v)) for v in (path_parameters or {}).values())

    return schema


def coverage_run(schema, operation, real: Real) -> Callable[[], None]:  # noqa: ANN001
    """schemathesis' coverage cases (deterministic), each also aimed at the real task / repo."""

    def run() -> None:
        config = schema.config.generation_for(operation=operation, phase="coverage")
        cases = schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode), generation_config=config)
        seen: dict[str, str] = {}
        once = Once()
        for case in cases:
            for variant in real.variants(case):
                try:
                    once.send(variant)
                except AssertionError as e:  # distinct failures, not one per boundary value
                    seen.setdefault(str(e).splitlines()[0][:200], str(e))
            if len(seen) >= MAX_REPORTED:
                break
        assert not seen, "\n\n".join(seen.values())

    return run


def hostile_run(schema, operation, real: Real) -> Callable[[], None]:  # noqa: ANN001
    """Every hostile value in every parameter and body field of one valid request, one field at a time."""

    def run() -> None:
        config = schema.config.generation_for(operation=operation, phase="coverage")
        base = next(
            iter(
                schema.iter_coverage_cases(
                    operation, generation_modes=[GenerationMode.POSITIVE], generation_config=config
                )
            ),
            None,
        )
        if base is None:
            return
        if operation.path in real.good_bodies:  # a request that would succeed, so each hostile value is the
            base = _derive(base, body=dict(real.good_bodies[operation.path]))  # only thing wrong with it
        seen: dict[str, str] = {}
        once = Once()
        for location, values in (
            ("path_parameters", HOSTILE_PATH),
            ("query", HOSTILE),
            ("headers", HOSTILE_HEADERS),
            ("body", HOSTILE_BODY),
        ):
            container = getattr(base, location)
            for key in sorted(container) if isinstance(container, Mapping) else ():
                for value in values:
                    case = _derive(base, **{location: {**container, key: value}})
                    for variant in real.variants(case):
                        try:
                            once.send(variant)
                        except AssertionError as e:
                            seen.setdefault(str(e).splitlines()[0][:200], str(e))
        assert not seen, "\n\n".join(list(seen.values())[:MAX_REPORTED])

    return run


def fuzz_run(operation, real: Real, examples: int) -> Callable[[], None]:  # noqa: ANN001
    """Hypothesis-generated cases, valid and invalid, each also aimed at the real task / repo."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    once = Once()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        for variant in real.variants(case):
            once.send(variant)

    return run


def failures_of(run: Callable[[], None], label: str) -> str | None:
    try:
        run()
    except Exception as e:  # noqa: BLE001 - collected, so one run reports every operation's failures
        return f"{label}:\n{e}"
    return None


def test_every_operation_answers_without_5xx_and_every_refusal_is_clear(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    stack.add_repo("calc", remote.url)
    broken = calc_files(DIRECT_FIX)
    broken[".honk.toml"] = '[[verify]]\nname = "test"\nrun = "true"\ntimeout = -3\n'  # tasks fail at once
    stack.add_repo("broken", make_remote(broken).url)
    task = stack.ask("calc", "make add() add")
    stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    real, schema = Real(task.id, remote.url), load_schema(stack.url)

    ANSWERS.clear()
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        examples = FEWER.get((operation.method.upper(), operation.path), FUZZ_EXAMPLES)
        failures.append(failures_of(coverage_run(schema, operation, real), f"{operation.label} (coverage)"))
        failures.append(failures_of(hostile_run(schema, operation, real), f"{operation.label} (hostile values)"))
        failures.append(failures_of(fuzz_run(operation, real, examples), f"{operation.label} (fuzz)"))
    print("\n".join(f"{op}: {dict(sorted(counts.items()))}" for op, counts in ANSWERS.items()))
    stack.stop()  # the server has exited: its log is complete
    failures += [f"unhandled exception in the server, {c}" for c in server_crashes(stack.logs / "server.log")]
    failures = [f for f in failures if f]
    assert not failures, f"{len(failures)} runs failed:\n\n" + "\n\n".join(failures)
    for op in (
        "GET /api/tasks/{task_id}",
        "GET /api/tasks/{task_id}/events",
        "POST /api/tasks",
        "POST /api/tasks/{task_id}/followup",
        "POST /api/repos",
    ):
        assert any(200 <= status < 300 for status in ANSWERS[op]), f"{op} never got past its refusals"
