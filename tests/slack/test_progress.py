"""A task's route as a streamed plan of task cards: what to send, from what was sent and the route now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from honk.domain import SlackStream, TaskState, TaskView
from honk.events import (
    AgentFinished,
    AgentStarted,
    CheckFinished,
    ChecksStarted,
    MergeRequested,
    TaskReady,
    WorkspacePreparing,
    WorkspaceReady,
)
from honk.route import Route
from honk.slack import limits
from honk.slack.progress import START_TIMEOUT_S, Move, ended, next_move
from honk.testing.fake_slack import refused_payload

NOW = 1_000_000.0


def task(state: TaskState, repo: str = "calc") -> TaskView:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return TaskView(
        id="t-1",
        repo=repo,
        text="make add() add",
        state=state,
        requested_by="ana",
        agent="scripted",
        model=None,
        branch="honk/t-1",
        created_at=at,
        updated_at=at,
    )


def route(*events: Any, start: Route | None = None) -> Route:
    r = start or Route()
    for e in events:
        r = r.fold(e)
    return r


def sent(move: Move, ts: str = "1.000100") -> SlackStream:
    """The stream once Slack answered the move (a start gets its message's ts)."""
    if move.after.mode == "starting":
        return move.after.model_copy(update={"mode": "open", "ts": ts})
    return move.after


class Shown:
    """A streamed message as Slack shows it: a card's title and status replaced, its details appended."""

    def __init__(self) -> None:
        self.title, self.cards = "", {}

    def take(self, chunks: list[dict]) -> Shown:
        assert refused_payload("chat.appendStream", {"chunks": chunks}) is None, "Slack takes every chunk"
        for c in chunks:
            if c["type"] == "plan_update":
                self.title = c["title"]
            else:
                card = self.cards.setdefault(c["id"], {"details": ""})
                card.update(title=c["title"], status=c["status"], details=card["details"] + c.get("details", ""))
        return self

    def statuses(self) -> dict[str, str]:
        return {k: v["status"] for k, v in self.cards.items()}


PREPARING = route(WorkspacePreparing())
WORKING = route(
    WorkspaceReady(branch="honk/t-1", base_commit="abc", seconds=1.0),
    AgentStarted(round=1, reason="request"),
    start=PREPARING,
)


def test_the_stream_starts_with_the_route_so_far_then_sends_only_what_changed():
    first = next_move(SlackStream(), PREPARING, task(TaskState.provisioning), NOW)
    assert first is not None and first.append is None and first.stop is None and first.start is not None
    shown = Shown().take(first.start)
    assert shown.title == "📦 Preparing the workspace — t-1 on calc"
    assert shown.statuses() == {"workspace": "in_progress"}
    assert (first.after.mode, first.after.since) == ("starting", NOW)

    stream = sent(first)
    assert next_move(stream, PREPARING, task(TaskState.provisioning), NOW) is None, "nothing changed"
    then = next_move(stream, WORKING, task(TaskState.working), NOW)
    assert then is not None and then.append is not None
    assert [c.get("id") for c in then.append] == [None, "workspace", "agent-1"], "the title, a change, a new card"
    shown.take(then.append)
    assert shown.statuses() == {"workspace": "complete", "agent-1": "in_progress"}
    assert shown.cards["workspace"]["details"] == "branch honk/t-1 from abc in 1.0s"

    stream = sent(then)
    grown = route(CheckFinished(name="test", passed=True, duration_s=0.1, distilled=""), start=WORKING)
    more = next_move(stream, grown, task(TaskState.working), NOW)
    assert more is not None and more.append == [
        {
            "type": "task_update",
            "id": "agent-1",
            "title": "Agent, round 1",
            "status": "in_progress",
            "details": "✅ test",
        }
    ], "only the details not sent yet"
    finished = route(AgentFinished(round=1, summary="Done.", changed_files=["a"], commit="c"), start=grown)
    last = next_move(sent(more), finished, task(TaskState.working), NOW)
    assert last is not None and last.append is not None
    shown.take(more.append).take(last.append)
    assert shown.cards["agent-1"]["details"] == "✅ test\nDone.\n1 file changed", "each line sent once"


def test_it_stops_where_the_task_waits_every_card_closed_and_the_next_stretch_gets_a_new_message():
    running = route(ChecksStarted(round=1, names=["lint", "test"]), start=WORKING)
    stream = sent(next_move(SlackStream(), running, task(TaskState.verifying), NOW))  # type: ignore[arg-type]
    ready = route(TaskReady(commit="c1", summary="Fixed.", diffstat=""), start=running)
    stop = next_move(stream, ready, task(TaskState.ready), NOW)
    assert stop is not None and stop.stop is not None and stop.append is None
    shown = Shown().take(next_move(SlackStream(), running, task(TaskState.verifying), NOW).start)  # type: ignore[union-attr]
    shown.take(stop.stop)
    assert set(shown.statuses().values()) == {"complete"} and "ready-1" in shown.cards
    assert shown.title.startswith("✅ Ready for review")
    assert stop.after == SlackStream(shown=ready.count), "no message open; the next one shows what comes next"

    merging = route(MergeRequested(by="bo"), start=ready)
    again = next_move(stop.after, merging, task(TaskState.merging), NOW)
    assert again is not None and again.start is not None
    assert [c.get("id") for c in again.start] == [None, "merge-1"], "only the new stretch of work"


def test_a_task_that_stops_before_its_stream_started_gets_one_started_and_stopped_at_once():
    move = next_move(SlackStream(), route(WorkspacePreparing()), task(TaskState.failed), NOW)
    assert move is not None and move.start is not None and move.stop == []
    assert Shown().take(move.start).statuses() == {"workspace": "error"}, "closed as the task ended"
    assert move.after == SlackStream(shown=1)
    assert next_move(move.after, route(WorkspacePreparing()), task(TaskState.failed), NOW) is None


def test_given_up_or_being_started_elsewhere_sends_nothing_a_start_that_never_reported_is_made_again():
    assert next_move(SlackStream(mode="fallback"), WORKING, task(TaskState.working), NOW) is None
    starting = SlackStream(mode="starting", since=NOW - 1, cards={})
    assert next_move(starting, WORKING, task(TaskState.working), NOW) is None
    stale = starting.model_copy(update={"since": NOW - START_TIMEOUT_S - 1})
    again = next_move(stale, WORKING, task(TaskState.working), NOW)
    assert again is not None and again.start is not None and len(again.start) == 3


def test_a_plan_holds_fifty_cards_then_the_work_goes_on_in_a_new_message():
    r = route(ChecksStarted(round=1, names=[f"c{i}" for i in range(48)]), start=WORKING)
    stream = sent(next_move(SlackStream(), r, task(TaskState.verifying), NOW))  # type: ignore[arg-type]
    assert len(stream.cards) == limits.PLAN_TASKS
    r = route(*(CheckFinished(name=f"c{i}", passed=True, duration_s=0, distilled="") for i in range(48)), start=r)
    r = route(AgentStarted(round=2, reason="check_feedback"), start=r)
    full = next_move(stream, r, task(TaskState.working), NOW)
    assert full is not None and full.stop is not None and full.start is None
    assert full.after.shown == r.get("agent-1").n, "from the first step the old message does not show finished"  # type: ignore[union-attr]
    nxt = next_move(full.after, r, task(TaskState.working), NOW)
    assert nxt is not None and nxt.start is not None
    assert [c.get("id") for c in nxt.start][:2] == [None, "agent-1"] and nxt.start[-1]["id"] == "agent-2"


def test_after_slack_ended_a_stream_the_next_message_goes_on_from_the_first_unfinished_step():
    stream = sent(next_move(SlackStream(), WORKING, task(TaskState.working), NOW))  # type: ignore[arg-type]
    dead = ended(stream, WORKING)
    assert dead == SlackStream(shown=WORKING.get("agent-1").n)  # type: ignore[union-attr]
    resumed = next_move(dead, WORKING, task(TaskState.working), NOW)
    assert resumed is not None and [c.get("id") for c in resumed.start or []] == [None, "agent-1"]


def test_titles_stay_within_slacks_limit():
    long = task(TaskState.working, repo="r" * 400)
    move = next_move(SlackStream(), PREPARING, long, NOW)
    assert move is not None and move.start is not None
    assert all(len(c["title"]) <= limits.STREAM_TITLE for c in move.start)
    assert refused_payload("chat.startStream", {"chunks": move.start, "task_display_mode": "plan"}) is None
