"""A task's route (`honk.route`) as a streamed Slack message: a plan of task cards — chat.startStream
in plan mode, chat.appendStream, chat.stopStream. Pure, like `blocks`: from what was last sent (the
task's `SlackStream`) and the route now, what to send next; `honk.slack.stream` sends it.

Slack replaces a card's title and status and appends to its details, so a card is sent again only
when it changed, with only the details not sent yet. A stream stops where the task waits for people
or ends (ready, a plan to approve, merged, failed, cancelled), every card closed: Slack shows a
stopped stream with an open card as an error. When work resumes, a new message carries the steps
from there on. A plan holds at most 50 cards; a longer stretch of work goes on in a new message.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk

from honk.domain import Record, SlackStream, StreamCard, TaskState, TaskView
from honk.route import Route, Step
from honk.slack import limits
from honk.slack.blocks import STATE_LINE

Chunk = dict[str, Any]

# Where a stream stops: the task waits for people (a plan, a review) or has ended.
STOPS = frozenset({TaskState.plan_ready, TaskState.ready, TaskState.merged, TaskState.failed, TaskState.cancelled})
DONE_WELL = frozenset({TaskState.plan_ready, TaskState.ready, TaskState.merged})
# A start claimed longer ago than this and never reported (its worker died) is made again.
START_TIMEOUT_S = 30.0


class Move(Record):
    """What brings a task's streamed message up to date, and the stream once it is sent."""

    start: list[Chunk] | None = None  # chat.startStream: a new message with these chunks
    append: list[Chunk] | None = None  # chat.appendStream to the open message
    stop: list[Chunk] | None = None  # chat.stopStream (after the start, when both)
    after: SlackStream


def title(task: TaskView) -> str:
    """The plan's title: where the task stands."""
    return _cut(f"{STATE_LINE[task.state]} — {task.id} on {task.repo}")


def busy(stream: SlackStream, now: float) -> bool:
    """Another update is starting the stream right now (its message has no ts yet)."""
    return stream.mode == "starting" and now - stream.since < START_TIMEOUT_S


def next_move(stream: SlackStream, route: Route, task: TaskView, now: float) -> Move | None:
    """What to send now (None: nothing; or the stream is given up for this task, or busy starting)."""
    if stream.mode == "fallback" or busy(stream, now):
        return None
    final, head = task.state in STOPS, title(task)
    leg = [s for s in route.steps if s.n >= stream.shown]
    if stream.mode == "open":
        return _go_on(stream, route, task, leg, head)
    # No message open (or a start that never reported): a new one, with the steps from `shown` on.
    if not leg:
        return None
    shown = leg[: limits.PLAN_TASKS]
    chunks = [_plan(head), *map(_whole, shown)]
    if final:
        more = leg[limits.PLAN_TASKS].n if len(leg) > limits.PLAN_TASKS else route.count
        return Move(start=chunks + _closing(shown, task), stop=[], after=SlackStream(shown=more))
    cards = {s.id: _card(s) for s in shown}
    return Move(
        start=chunks, after=SlackStream(mode="starting", since=now, title=head, cards=cards, shown=stream.shown)
    )


def ended(stream: SlackStream, route: Route) -> SlackStream:
    """Slack ended the stream under Honk (a stream lives minutes, a task may work for longer): its
    message keeps what it was sent; the next message goes on from the first step it does not show
    finished as it is now."""
    return SlackStream(shown=_resume(route, stream.shown, stream.cards))


def _go_on(stream: SlackStream, route: Route, task: TaskView, leg: list[Step], head: str) -> Move | None:
    cards = dict(stream.cards)
    new = [s for s in leg if s.id not in cards]
    chunks = [_plan(head)] if head != stream.title else []
    for step in leg:
        if step.id in cards and (chunk := _update(step, cards[step.id])) is not None:
            chunks.append(chunk)
            cards[step.id] = _card(step)
    if new and len(cards) + len(new) > limits.PLAN_TASKS:
        # The plan is full: this message ends with its own cards as they are; the next goes on.
        return Move(stop=chunks, after=SlackStream(shown=_resume(route, stream.shown, cards)))
    for step in new:
        chunks.append(_whole(step))
        cards[step.id] = _card(step)
    if task.state in STOPS:
        shown = [s for s in leg if s.id in cards]
        return Move(stop=chunks + _closing(shown, task), after=SlackStream(shown=route.count))
    if not chunks:
        return None
    return Move(append=chunks, after=stream.model_copy(update={"title": head, "cards": cards}))


def _resume(route: Route, shown: int, cards: dict[str, StreamCard]) -> int:
    """The first step (from `shown` on) not shown finished, as it is now, by a message with `cards`."""
    pending = [s.n for s in route.steps if s.n >= shown and (s.open or cards.get(s.id) != _card(s))]
    return min(pending, default=route.count)


def _closing(steps: list[Step], task: TaskView) -> list[Chunk]:
    """Steps still open where the stream stops, closed for the message (Slack shows an open card of
    a stopped stream as an error)."""
    status = "complete" if task.state in DONE_WELL else "error"
    return [TaskUpdateChunk(id=s.id, title=_cut(s.title), status=status).to_dict() for s in steps if s.open]


def _update(step: Step, sent: StreamCard) -> Chunk | None:
    """A card sent before: its title and status with the details not sent yet (None: unchanged)."""
    if _card(step) == sent:
        return None
    return _chunk(step, step.details[sent.details :])


def _whole(step: Step) -> Chunk:
    """A new card: all of it."""
    return _chunk(step, step.details)


def _chunk(step: Step, details: str) -> Chunk:
    return TaskUpdateChunk(id=step.id, title=_cut(step.title), status=step.status, details=details or None).to_dict()


def _card(step: Step) -> StreamCard:
    return StreamCard(title=_cut(step.title), status=step.status, details=len(step.details))


def _plan(head: str) -> Chunk:
    return PlanUpdateChunk(title=head).to_dict()


def _cut(text: str) -> str:
    return limits.cut(text, limits.STREAM_TITLE)
