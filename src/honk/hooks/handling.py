"""What Honk does with a forge event, once its delivery's workflow (honk.hooks.delivery_workflow) runs it.

For now it only says what it would do, and records that on the delivery: the mention → task, review →
follow-up, CI failure → fix and main moved → rebase wiring is issue 19's next part. `would_do` is pure,
so the workflow can call it; the record is an activity (`DeliverySteps`).
"""

from __future__ import annotations

from temporalio import activity

from honk.domain import Carried, ForgeKind
from honk.hooks.events import (
    ChecksFailed,
    Comment,
    ForgeEvent,
    PullRequestChanged,
    Pushed,
    Review,
    ReviewComment,
)
from honk.store.deliveries import HookDeliveries


class HookDelivery(Carried):
    """A delivery handed to its workflow: which one (to record what came of it), and what it says."""

    forge: ForgeKind
    delivery_id: str
    event: ForgeEvent


class DeliveryHandled(Carried):
    forge: ForgeKind
    delivery_id: str
    detail: str


def would_do(event: ForgeEvent) -> str:
    """One line: what the next part will do with `event` (and why nothing, when nothing)."""
    where = event.repo
    if event.by_bot:
        return f"nothing: {event.actor or 'a bot'} is a bot, and bots never instruct Honk"
    match event:
        case Comment(mentioned=True):
            what = f"{where}#{event.number}" if event.number else f"a {event.on} in {where}"
            return f"would start a task (a follow-up, on Honk's pull request) for @{event.actor}'s comment on {what}"
        case Comment():
            return "nothing now: Honk is not mentioned (the comment is context when Honk next works there)"
        case Review(verdict="changes_requested" | "commented"):
            return f"would make a follow-up of @{event.actor}'s review of {where}#{event.number}, if the PR is Honk's"
        case Review():
            return f"nothing: @{event.actor} {event.verdict.replace('_', ' ')} {where}#{event.number}"
        case ReviewComment():
            return f"would make a follow-up of @{event.actor}'s line comment on {where}#{event.number}, if the PR is Honk's"
        case ChecksFailed():
            return (
                f"would try a fix for {event.source} {event.name!r} failing on {event.head_sha[:12]} in {where}, "
                "if that commit is the head of a Honk PR"
            )
        case PullRequestChanged(action="closed"):
            return f"would note that {where}#{event.number} was {'merged' if event.merged else 'closed'}"
        case PullRequestChanged():
            return f"nothing yet: {where}#{event.number} {event.action}"
        case Pushed():
            return f"would check Honk's open PRs onto {event.branch or event.ref} in {where} for conflicts"
    return "nothing"


class DeliverySteps:
    """The delivery workflow's activities: the worker builds one with the store and registers `all()`."""

    def __init__(self, deliveries: HookDeliveries) -> None:
        self.deliveries = deliveries

    @activity.defn(name="hook_delivery_handled")
    async def handled(self, done: DeliveryHandled) -> None:
        await self.deliveries.moved(done.forge, done.delivery_id, "handled", done.detail)

    def all(self) -> list:
        return [self.handled]
