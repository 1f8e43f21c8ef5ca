"""A forge's delivery, from the bytes the web route read to an answer for the forge: checked, read, stored
once, handed to its workflow — and never acted on here, so the answer comes fast (GitHub gives up after
10 seconds) and nothing is lost when a worker is busy or down.

In order, each refusal before anything is stored: the signature (401), the event's kind (one not read:
204), the delivery's id (400), the JSON (400), what it says (Ignored: 204). Then the delivery is stored by
its id and answered (202; 200 for a redelivery): the store is durable, so the answer does not wait for
Temporal. Then, after the answer, `HonkHookDelivery` is started with the delivery's id, which Temporal
refuses to start twice; a start that failed (Temporal away) is made again by `resume`, which the server
runs at start and every minute, or by the forge's redelivery. A redelivery of one already handed on starts
nothing. (Starting the workflow inside the request, as this did first, held each answer for Temporal's
start — about 24 ms of the dev server's CPU per delivery — and a burst of 100/s queued behind it: see
docs/benchmarks.md, "The pull request as a front door".)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from honk.domain import ForgeKind, Record
from honk.hooks import github, gitlab
from honk.hooks.delivery_workflow import NAME, workflow_id
from honk.hooks.events import Ignored
from honk.hooks.handling import HookDelivery
from honk.hooks.signatures import github_valid, gitlab_valid
from honk.settings import Settings
from honk.store.batching import WriteBatch
from honk.store.deliveries import HookDeliveries

log = logging.getLogger("honk.hooks")
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
MAX_EVENT = 60
START_TIMEOUT = timedelta(seconds=10)  # a start slower than this is made again by `resume`
STARTS_AT_ONCE = 8
# The headers each forge names things with (lower case: HTTP's are case-insensitive).
HEADERS: dict[ForgeKind, tuple[str, str, str]] = {
    # event, delivery id, signature
    "github": ("x-github-event", "x-github-delivery", "x-hub-signature-256"),
    "gitlab": ("x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-token"),
}
SETTING = {"github": "HONK_GITHUB_WEBHOOK_SECRET", "gitlab": "HONK_GITLAB_WEBHOOK_TOKEN"}
NAMES = {"github": "GitHub", "gitlab": "GitLab"}


class Answer(Record):
    """What the forge is told: an HTTP status, and one line saying why (never a secret)."""

    status: int
    detail: str


class HookIntake:
    def __init__(self, deliveries: HookDeliveries, client: Client, settings: Settings) -> None:
        self.deliveries, self.client = deliveries, client
        self._pending: set[asyncio.Task[object]] = set()
        self._starting = asyncio.Semaphore(STARTS_AT_ONCE)
        self._started: WriteBatch[tuple[ForgeKind, str]] = WriteBatch(self._write_started)  # a burst's, together
        self.task_queue = settings.temporal.task_queue
        self.handle = settings.hooks.forge_handle
        github_secret, gitlab_token = settings.hooks.github_webhook_secret, settings.hooks.gitlab_webhook_token
        self.secrets: dict[ForgeKind, str] = {
            "github": github_secret.get_secret_value() if github_secret else "",
            "gitlab": gitlab_token.get_secret_value() if gitlab_token else "",
        }

    def _after_answer(self, step: Awaitable[object]) -> None:
        task = asyncio.ensure_future(step)
        self._pending.add(task)  # held, so it is not collected before it ran
        task.add_done_callback(self._pending.discard)

    async def settled(self) -> None:
        """Waits for the records made after answers (a clean shutdown; tests)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def enabled(self, forge: ForgeKind) -> Answer | None:
        """None when `forge`'s deliveries are taken; otherwise the refusal, before reading anything."""
        if self.secrets[forge]:
            return None
        return Answer(
            status=404, detail=f"{NAMES[forge]} webhooks are not enabled on this server: set {SETTING[forge]}."
        )

    async def take(self, forge: ForgeKind, headers: Mapping[str, str], body: bytes) -> Answer:
        """`headers`: the request's (case-insensitive, as Starlette's are); `body`: all of it, within the cap."""
        if refused := self.enabled(forge):
            return refused
        event_header, id_header, signature_header = HEADERS[forge]
        signature = headers.get(signature_header)
        valid = (
            github_valid(self.secrets[forge], body, signature)
            if forge == "github"
            else gitlab_valid(self.secrets[forge], signature)
        )
        if not valid:
            what = "signature" if forge == "github" else "token"
            said = "has no" if not signature else "has the wrong"
            return Answer(status=401, detail=f"Refused: the delivery {said} {what} ({SETTING[forge]}).")
        event = (headers.get(event_header) or "")[:MAX_EVENT]
        parser = github if forge == "github" else gitlab
        if event not in parser.EVENTS:
            return Answer(status=204, detail=f"{NAMES[forge]}'s {event!r} events are not read.")
        delivery_id = headers.get(id_header) or ""
        if not delivery_id and forge == "gitlab":
            # GitLab before 15.x sends no event UUID: the same body again is the same delivery.
            delivery_id = "sha256-" + hashlib.sha256(body).hexdigest()[:40]
        if not DELIVERY_ID.match(delivery_id):
            return Answer(status=400, detail=f"Refused: the delivery has no usable {id_header} header.")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as e:
            return Answer(status=400, detail=_not_json(forge, body, e))
        parsed = parser.parse(event, payload, self.handle)
        if isinstance(parsed, Ignored):
            log.debug("%s delivery %s (%s) ignored: %s", forge, delivery_id, event, parsed.reason)
            return Answer(status=204, detail=f"Ignored: {parsed.reason}.")
        stored, new = await self.deliveries.received(forge, delivery_id, event, body.decode("utf-8", "replace"))
        if not new and stored.state != "received":
            return Answer(status=200, detail=f"Delivery {delivery_id} was received before; nothing new starts.")
        # Stored is durable: the workflow's start comes after the answer, so a burst is answered at the
        # store's pace, not Temporal's. A start that fails is made again by `resume` (every minute) or by
        # the forge's redelivery; Temporal refuses a second start of the same id either way.
        self._after_answer(self._hand_on_later(HookDelivery(forge=forge, delivery_id=delivery_id, event=parsed)))
        return Answer(status=202 if new else 200, detail=f"Delivery {delivery_id} accepted.")

    async def resume(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Hands on the deliveries stored but never handed on (Temporal was unreachable, or the server stopped
        between storing and starting) that nobody redelivered for `older_than`; how many went. For the
        server's start-up and a periodic sweep."""
        went = 0
        for stored in await self.deliveries.waiting(datetime.now(UTC) - older_than):
            parser = github if stored.forge == "github" else gitlab
            try:
                parsed = parser.parse(stored.event, json.loads(stored.payload), self.handle)
            except (ValueError, RecursionError):
                parsed = Ignored(reason="its stored payload is not JSON")
            if isinstance(parsed, Ignored):  # read with another handle or parser version: nothing to do now
                await self.deliveries.moved(stored.forge, stored.id, "handled", f"nothing: {parsed.reason}")
                continue
            if not await self._hand_on(HookDelivery(forge=stored.forge, delivery_id=stored.id, event=parsed)):
                break  # Temporal is still away: the next sweep tries again
            went += 1
        return went

    async def _hand_on_later(self, delivery: HookDelivery) -> None:
        async with self._starting:  # a burst's starts queue here rather than all at once against Temporal
            await self._hand_on(delivery)

    async def _hand_on(self, delivery: HookDelivery) -> bool:
        """Starts the delivery's workflow (or finds it started); False when Temporal cannot be reached."""
        try:
            await self.client.start_workflow(
                NAME,
                delivery,
                id=workflow_id(delivery),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=START_TIMEOUT,
            )
        except WorkflowAlreadyStartedError:
            pass  # started by a hand-off whose record did not follow (the server stopped between the two)
        except (RPCError, RuntimeError) as e:  # RuntimeError: the client could not (re)connect at all
            log.warning(
                "%s delivery %s stored but not handed on: Temporal: %s", delivery.forge, delivery.delivery_id, e
            )
            return False
        # Recorded after the answer, not before it: a start whose record is lost (the server stopping) is
        # found again by its redelivery, or `resume`, and Temporal refuses it a second time.
        self._after_answer(self._started.add((delivery.forge, delivery.delivery_id)))
        log.info("%s delivery %s (%s) handed on", delivery.forge, delivery.delivery_id, delivery.event.kind)
        return True

    async def _write_started(self, started: Sequence[tuple[ForgeKind, str]]) -> None:
        by_forge: dict[ForgeKind, list[str]] = {}
        for forge, delivery_id in started:
            by_forge.setdefault(forge, []).append(delivery_id)
        for forge, ids in by_forge.items():
            try:
                await self.deliveries.all_moved(forge, ids, "started")
            except Exception:  # noqa: BLE001 - left to `resume`, which finds them "received" and Temporal refusing
                log.exception("the starts of %d %s deliveries were not recorded", len(ids), forge)


def _not_json(forge: ForgeKind, body: bytes, e: Exception) -> str:
    if forge == "github" and body.startswith(b"payload="):
        return "Refused: the body is form-encoded; set the webhook's Content type to application/json."
    where = f" at line {e.lineno}, column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
    return f"Refused: the body is not JSON{where}."
