"""The campaign's decisions (honk.workflow.campaign_policy), pure: waves judged on the first wave's
members only once none of them runs, concurrency never exceeded, a budget never overspent, a halted first
wave keeps the rest from starting, and every member ends in a final status — by example and on campaigns
hypothesis makes up and plays to the end."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from honk.domain import CampaignSettings, CampaignState, MemberProgress, TaskState
from honk.workflow.campaign_policy import (
    BUDGET_SPENT,
    HELD_BACK,
    MIN_SHARE_USD,
    campaign_id_for,
    cancel_plan,
    decide,
    judge_first_wave,
    member_request_id,
    running,
    settled,
    spent_and_reserved,
)


def _members(n: int, wave_size: int) -> list[MemberProgress]:
    return [MemberProgress(repo=f"r{i}", wave=1 if i < wave_size else 2) for i in range(n)]


def _started(m: MemberProgress, state: TaskState | None, cost: float | None = None, cap: float | None = None):
    return m.model_copy(
        update={
            "status": "started",
            "task_id": f"t-{m.repo}",
            "task_state": state,
            "cost_usd": cost,
            "cost_cap_usd": cap,
        }
    )


def test_the_first_wave_starts_first_within_the_concurrency():
    s = CampaignSettings(wave_size=3, concurrency=2)
    d = decide(_members(6, 3), s)
    assert [x.repo for x in d.start] == ["r0", "r1"] and d.state == CampaignState.running
    assert all(x.cap_usd is None for x in d.start), "no budget: no cap"


def test_the_rest_waits_while_the_first_wave_runs_then_goes():
    s = CampaignSettings(wave_size=2, go_percent=50, concurrency=10)
    ms = _members(4, 2)
    ms[0], ms[1] = _started(ms[0], TaskState.ready), _started(ms[1], TaskState.working)
    assert decide(ms, s).start == [], "a wave judged while members still run waits"
    assert judge_first_wave(ms, s).go is None
    ms[1] = _started(ms[1], TaskState.failed)
    d = decide(ms, s)
    assert [x.repo for x in d.start] == ["r2", "r3"]


def test_a_failed_first_wave_halts_with_the_numbers():
    s = CampaignSettings(wave_size=5, go_percent=80)
    ms = _members(8, 5)
    states = [TaskState.ready, TaskState.merged, TaskState.merging, TaskState.failed, TaskState.cancelled]
    ms[:5] = [_started(m, st_) for m, st_ in zip(ms[:5], states, strict=True)]
    d = decide(ms, s)
    assert d.start == [] and d.state == CampaignState.running, "judged (merging counts as ready); still merging"
    assert [(x.repo, x.reason.startswith(HELD_BACK)) for x in d.skip] == [("r5", True), ("r6", True), ("r7", True)]
    assert "3 of 5 in the first wave reached ready; 80% (4) needed" in d.skip[0].reason
    ms[2] = _started(ms[2], TaskState.merged)
    ms[5:] = [
        m.model_copy(update={"status": "skipped", "reason": x.reason}) for m, x in zip(ms[5:], d.skip, strict=True)
    ]
    d = decide(ms, s)
    assert d.state == CampaignState.halted
    assert d.reason == "3 of 5 in the first wave reached ready; 80% (4) needed"


def test_a_first_wave_that_is_the_whole_campaign_ends_done_not_halted():
    s = CampaignSettings(wave_size=5, go_percent=80)
    ms = _members(4, 5)  # four repos, a first wave of five: there is no rest to hold back
    states = [TaskState.ready, TaskState.ready, TaskState.ready, TaskState.failed]
    ms = [_started(m, st_) for m, st_ in zip(ms, states, strict=True)]
    d = decide(ms, s)
    assert d.state == CampaignState.done and d.skip == []
    assert d.reason == "3 of 4 reached ready"


def test_refused_counts_against_the_first_wave_skipped_does_not():
    s = CampaignSettings(wave_size=3, go_percent=100)
    ms = _members(4, 3)
    ms[0] = _started(ms[0], TaskState.ready)
    ms[1] = ms[1].model_copy(update={"status": "skipped", "reason": "archived"})
    ms[2] = ms[2].model_copy(update={"status": "refused", "reason": "not allowed"})
    assert judge_first_wave(ms, s).go is False
    ms[2] = _started(ms[2], TaskState.ready)
    assert judge_first_wave(ms, s).go is True


def test_budget_shares_reserve_caps_and_skip_when_spent():
    s = CampaignSettings(wave_size=0, concurrency=2, max_cost_usd=10.0)
    ms = _members(4, 0)
    d = decide(ms, s)
    assert [(x.repo, x.cap_usd) for x in d.start] == [("r0", 2.5), ("r1", 2.5)]
    ms[0], ms[1] = _started(ms[0], TaskState.failed, cost=5.0, cap=2.5), _started(ms[1], TaskState.working, cap=2.5)
    d = decide(ms, s)
    assert [(x.repo, x.cap_usd) for x in d.start] == [("r2", 1.25)], "what is left over the two still waiting"
    ms[1] = _started(ms[1], TaskState.ready, cost=5.0, cap=2.5)
    d = decide(ms, s)
    assert d.start == [] and [(x.repo, x.reason) for x in d.skip] == [("r2", BUDGET_SPENT), ("r3", BUDGET_SPENT)]
    assert d.state == CampaignState.done


def test_automerge_merges_ready_members_whose_checks_passed_once():
    s = CampaignSettings(wave_size=0, automerge=True)
    ms = _members(3, 0)
    ms[0] = _started(ms[0], TaskState.ready).model_copy(update={"checks_passed": True})
    ms[1] = _started(ms[1], TaskState.ready).model_copy(update={"checks_passed": False})
    ms[2] = _started(ms[2], TaskState.ready).model_copy(update={"checks_passed": True, "merge_tried": True})
    d = decide(ms, s)
    assert d.merge == ["r0"] and d.state == CampaignState.running
    ms[0] = ms[0].model_copy(update={"merge_tried": True})
    assert decide(ms, s).state == CampaignState.done


def test_cancel_plan_and_ids():
    ms = _members(4, 0)
    ms[0], ms[1] = _started(ms[0], TaskState.working), _started(ms[1], TaskState.merged)
    ms[2] = _started(ms[2], None)  # started, its row not written yet: cancelled too
    plan = cancel_plan(ms)
    assert plan.tasks == ["t-r0", "t-r2"] and plan.skip == ["r3"]
    assert campaign_id_for("x") == campaign_id_for("x") != campaign_id_for("y")
    assert member_request_id("c-1", "api", 2) == "campaign-c-1-api-2"


@st.composite
def campaigns(draw):  # noqa: ANN001, ANN201 - a hypothesis strategy
    n = draw(st.integers(1, 10))
    s = CampaignSettings(
        wave_size=draw(st.integers(0, n + 1)),
        go_percent=draw(st.integers(0, 100)),
        concurrency=draw(st.integers(1, 4)),
        max_cost_usd=draw(st.none() | st.floats(0.05, 20.0)),
        automerge=draw(st.booleans()),
    )
    fates = draw(st.lists(st.sampled_from(["ready", "failed", "refused"]), min_size=n, max_size=n))
    spend = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))  # of its cap
    return s, _members(n, s.wave_size), fates, spend


@settings(max_examples=300, deadline=None)
@given(campaigns(), st.randoms(use_true_random=False))
def test_any_campaign_keeps_its_limits_and_ends_with_every_member_final(campaign, rnd):
    s, ms, fates, spend = campaign
    index = {m.repo: i for i, m in enumerate(ms)}
    halted_seen = False
    for _ in range(200):
        d = decide(ms, s)
        busy = sum(running(m) for m in ms)
        assert busy + len(d.start) <= s.concurrency, "never more than the concurrency running"
        assert len({x.repo for x in d.start}) == len(d.start)
        judged = judge_first_wave(ms, s)
        if judged.go is False:
            halted_seen = True
        if halted_seen:
            assert all(ms[index[x.repo]].wave == 1 for x in d.start), "halted: no second-wave start"
        for skip in d.skip:
            i = index[skip.repo]
            assert ms[i].status == "waiting"
            ms[i] = ms[i].model_copy(update={"status": "skipped", "reason": skip.reason})
        for start in d.start:
            i = index[start.repo]
            assert ms[i].status == "waiting"
            if s.max_cost_usd is not None:
                assert start.cap_usd is not None and start.cap_usd >= MIN_SHARE_USD
            if fates[i] == "refused":
                ms[i] = ms[i].model_copy(update={"status": "refused", "reason": "policy"})
            else:
                ms[i] = _started(ms[i], TaskState.queued, cap=start.cap_usd)
        if s.max_cost_usd is not None:
            assert spent_and_reserved(ms) <= s.max_cost_usd + 1e-9, "never over budget"
        for repo in d.merge:
            i = index[repo]
            ms[i] = ms[i].model_copy(update={"merge_tried": True, "task_state": TaskState.merged})
        if d.state.terminal:
            assert all(settled(m) for m in ms), "every member ends in a final status"
            assert d.state != CampaignState.halted or all(m.status == "skipped" for m in ms if m.wave == 2)
            return
        runners = [i for i, m in enumerate(ms) if running(m)]
        assert runners or d.start or d.merge or d.skip, "a running campaign always has something under way"
        if runners:
            i = rnd.choice(runners)
            cap = ms[i].cost_cap_usd
            cost = (cap * spend[i]) if cap is not None else spend[i]
            state = TaskState.ready if fates[i] == "ready" else TaskState.failed
            ms[i] = ms[i].model_copy(
                update={"task_state": state, "cost_usd": cost, "checks_passed": state == TaskState.ready}
            )
    raise AssertionError("the campaign never ended")
