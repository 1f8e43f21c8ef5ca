"""Pure decisions of a campaign (honk.workflow.campaign_workflow): no I/O, safe in workflow code.

Given every member's progress (read from the store in one query) and the campaign's settings, `decide`
says which waiting members start now and with what budget share, which are skipped and why, which ready
members are merged automatically, and whether the campaign is still running, done or halted.

- Concurrency: never more than `concurrency` members running at once.
- Waves: the first wave (the first `wave_size` members) starts first; the rest start only once every
  member of the first wave has settled and at least `go_percent` of them reached ready (ready, merging or
  merged; failed, cancelled and refused do not). A bad prompt then costs `wave_size` runs, not all.
- Budget: `max_cost_usd` covers all members together. A started member reserves its share (its cap) until
  it settles, then counts what it actually cost (and every earlier attempt's cost counts too). A member
  starts only with a share of what is left (that amount over the members still waiting), so the sum of
  caps and costs never passes the budget; when what is left is too little to start anything and nothing
  runs, the waiting members are skipped ("budget spent").
"""

from __future__ import annotations

import base64
import hashlib
import math

from honk.domain import (
    CampaignSettings,
    CampaignState,
    Carried,
    MemberProgress,
    TaskState,
)

# A skipped member's reason starts with this when a halted first wave held it back: a retry that makes
# the first wave be judged again lets it wait again (honk.store.campaigns.CampaignStore.reopen).
HELD_BACK = "held back:"
BUDGET_SPENT = "budget spent"
CANCELLED = "campaign cancelled"
# The least budget share a member starts with: below it an agent could not do anything useful.
MIN_SHARE_USD = 0.01

READY_STATES = (TaskState.ready, TaskState.merging, TaskState.merged)
SETTLED_STATES = (TaskState.ready, TaskState.merged, TaskState.failed, TaskState.cancelled)


def campaign_id_for(request_id: str) -> str:
    """Derived from the request id, so a retried start maps to the same campaign (and workflow)."""
    digest = hashlib.sha256(request_id.encode()).digest()
    return "c-" + base64.b32encode(digest).decode().lower()[:12]


def workflow_id(campaign_id: str) -> str:
    return f"campaign-{campaign_id}"


def member_request_id(campaign_id: str, repo: str, attempt: int) -> str:
    """A member task's request id: a retried start activity starts nothing twice; a new attempt is new."""
    return f"campaign-{campaign_id}-{repo}-{attempt}"


def reached_ready(m: MemberProgress) -> bool:
    return m.status == "started" and m.task_state in READY_STATES


def settled(m: MemberProgress) -> bool:
    """Whether the member needs nothing more from the campaign: refused, skipped, or its task ready (for
    people), merged, failed or cancelled. A merging task is still under way."""
    if m.status in ("refused", "skipped"):
        return True
    return m.status == "started" and m.task_state in SETTLED_STATES


def running(m: MemberProgress) -> bool:
    return m.status == "started" and not settled(m)


class Judgement(Carried):
    """The first wave's verdict: `go` None while it is still under way."""

    go: bool | None = None
    reason: str = ""


class Start(Carried):
    repo: str
    cap_usd: float | None = None  # its share of the campaign's budget (None: the campaign has none)


class Skip(Carried):
    repo: str
    reason: str


class CampaignDecision(Carried):
    start: list[Start] = []
    skip: list[Skip] = []
    merge: list[str] = []  # ready members whose checks passed, to merge (automerge)
    state: CampaignState = CampaignState.running
    reason: str = ""


def judge_first_wave(members: list[MemberProgress], settings: CampaignSettings) -> Judgement:
    """Go when at least `go_percent` of the first wave reached ready, once none of it waits or runs.
    Members skipped before they ran (an archived repo) say nothing of the prompt: they are not counted."""
    wave = [m for m in members if m.wave == 1]
    if any(m.status == "waiting" or (running(m) and not reached_ready(m)) for m in wave):  # merging: ready
        return Judgement()
    judged = [m for m in wave if m.status != "skipped"]
    ready = sum(reached_ready(m) for m in judged)
    if not judged or ready * 100 >= settings.go_percent * len(judged):
        return Judgement(go=True, reason=f"{ready} of {len(judged)} reached ready")
    needed = math.ceil(settings.go_percent * len(judged) / 100)
    return Judgement(
        go=False,
        reason=f"{ready} of {len(judged)} in the first wave reached ready; {settings.go_percent}% ({needed}) needed",
    )


def spent_and_reserved(members: list[MemberProgress]) -> float:
    """What the campaign's members cost or may still cost: running members' caps (what they may spend at
    most), settled members' actual cost, and every earlier attempt's cost."""
    total = 0.0
    for m in members:
        total += m.earlier_cost_usd
        if running(m):
            total += max(m.cost_cap_usd or 0.0, m.cost_usd or 0.0)
        elif m.status == "started":
            total += m.cost_usd or 0.0
    return total


def budget_left(members: list[MemberProgress], settings: CampaignSettings) -> float | None:
    if settings.max_cost_usd is None:
        return None
    return settings.max_cost_usd - spent_and_reserved(members)


def decide(members: list[MemberProgress], settings: CampaignSettings) -> CampaignDecision:
    """What the campaign does now (see the module's docstring)."""
    judgement = judge_first_wave(members, settings)
    waiting = [m for m in members if m.status == "waiting"]
    busy = sum(running(m) for m in members)
    skip: list[Skip] = []
    if judgement.go is False:
        skip += [Skip(repo=m.repo, reason=f"{HELD_BACK} {judgement.reason}") for m in waiting if m.wave != 1]
        waiting = [m for m in waiting if m.wave == 1]
    startable = [m for m in waiting if m.wave == 1 or judgement.go is True]

    starts: list[Start] = []
    left = budget_left(members, settings)
    unstarted = len(waiting)  # every member still waiting shares what is left
    for m in startable:
        if busy + len(starts) >= settings.concurrency:
            break
        if left is None:
            starts.append(Start(repo=m.repo))
            continue
        share = left / unstarted
        if share < MIN_SHARE_USD:
            break
        starts.append(Start(repo=m.repo, cap_usd=share))
        left -= share
        unstarted -= 1

    if left is not None and not starts and busy == 0 and startable:
        # Nothing runs that could free budget, and what is left starts nobody: the rest never will.
        skip += [Skip(repo=m.repo, reason=BUDGET_SPENT) for m in waiting]
        waiting = []

    merge = []
    if settings.automerge:
        merge = [
            m.repo
            for m in members
            if m.status == "started" and m.task_state == TaskState.ready and m.checks_passed and not m.merge_tried
        ]

    skipped = {s.repo for s in skip}
    still_waiting = [m for m in waiting if m.repo not in skipped]
    if starts or still_waiting or busy or merge:
        return CampaignDecision(start=starts, skip=skip, merge=merge, state=CampaignState.running)
    if judgement.go is False and any(m.wave != 1 for m in members):
        return CampaignDecision(skip=skip, state=CampaignState.halted, reason=judgement.reason)
    # A first wave that was the whole campaign held nothing back: it is done, however many reached ready.
    return CampaignDecision(skip=skip, state=CampaignState.done, reason=_summary(members))


def _summary(members: list[MemberProgress]) -> str:
    ready = sum(reached_ready(m) for m in members)
    return f"{ready} of {len(members)} reached ready"


class CancelPlan(Carried):
    """What cancelling does: the tasks to cancel (started, not ended), the members never started, and the
    failed members' tasks, whose pull request (one opened before a later round failed) no task closes."""

    tasks: list[str] = []
    skip: list[str] = []
    failed: list[str] = []


def cancel_plan(members: list[MemberProgress]) -> CancelPlan:
    return CancelPlan(
        tasks=[
            m.task_id
            for m in members
            if m.status == "started" and m.task_id and (m.task_state is None or not m.task_state.terminal)
        ],
        skip=[m.repo for m in members if m.status == "waiting"],
        failed=[m.task_id for m in members if m.status == "started" and m.task_id and m.task_state == TaskState.failed],
    )
