"""A campaign: one request across many repos (honk.campaigns), as one Temporal workflow per campaign.

It selects the repos once, then loops: read every member's progress from the store (one activity, one
query), let the campaign policy decide (honk.workflow.campaign_policy: which start now, which are
skipped, which are merged, whether it is done or halted), act on it, update its Slack message when
something changed, and wait for a poke (a member's task moved: its record step signals) or the poll timer.

Members are top-level task workflows started through TaskService (the same gate, budget and merge policy
as a task asked alone), never child workflows: the store is the campaign's truth, so the workflow carries
only small state, and continues as new when its history grows. Activities are called by name: their code
(`honk.campaigns.CampaignSteps`) sits in the service layer, above this one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from honk.domain import CampaignRequest, CampaignState, Carried, MemberProgress, MemberStatus
    from honk.workflow import campaign_policy as policy
    from honk.workflow.records import CancelRequest

NAME = "HonkCampaign"
ACT_SELECT = "campaign_select"
ACT_PROGRESS = "campaign_progress"
ACT_START = "campaign_start_member"
ACT_SKIP = "campaign_skip"
ACT_STATE = "campaign_state"
ACT_CANCEL = "campaign_cancel_members"
ACT_MERGE = "campaign_merge_member"
ACT_REOPEN = "campaign_reopen"
ACT_TELL = "campaign_tell"
ACTIVITIES = (ACT_SELECT, ACT_PROGRESS, ACT_START, ACT_SKIP, ACT_STATE, ACT_CANCEL, ACT_MERGE, ACT_REOPEN, ACT_TELL)
# Continue as new past this many history events even when Temporal does not suggest it yet: a campaign of
# hundreds of repos pokes its loop thousands of times, and a short history replays fast on a new worker.
# The default of `CampaignInput.history_events_limit` (settings.campaigns.history_events_limit).
MAX_HISTORY_EVENTS = 10_000


class RetryFailed(Carried):
    """Retry the failed members, with `instruction` added to their request."""

    instruction: str = ""
    by: str


class CampaignInput(Carried):
    """The campaign as asked, and the little a continue-as-new carries: whether its repos were selected,
    and the retries and cancel asked but not yet acted on. `history_events_limit`: the history length at
    which it continues as new (an input, kept across runs, so a test can make it happen after a few loops;
    runs started before it existed read the default, as they always had it)."""

    request: CampaignRequest
    poll_s: float = 30.0
    selected: bool = False
    retries: list[RetryFailed] = []
    cancel_by: str | None = None
    history_events_limit: int = MAX_HISTORY_EVENTS


class CampaignOutcome(Carried):
    state: CampaignState
    reason: str = ""


class SelectInput(Carried):
    request: CampaignRequest


class Selected(Carried):
    """The members added; `ended` with a reason when there is nothing to run (an unknown repo named, no
    repo matched, too many)."""

    repos: list[str] = []
    ended: str | None = None


class ProgressInput(Carried):
    campaign_id: str
    with_checks: bool = False


class Progress(Carried):
    members: list[MemberProgress] = []


class StartMemberInput(Carried):
    request: CampaignRequest
    repo: str
    cap_usd: float | None = None


class MemberStarted(Carried):
    """What starting one member came to: "started" (its task), or "refused"/"skipped" with why."""

    repo: str
    status: MemberStatus
    task_id: str | None = None
    reason: str = ""


class SkipInput(Carried):
    campaign_id: str
    skips: list[policy.Skip] = []


class StateInput(Carried):
    campaign_id: str
    state: CampaignState
    reason: str | None = None


class CancelMembersInput(Carried):
    request: CampaignRequest
    by: str


class MergeMemberInput(Carried):
    request: CampaignRequest
    repo: str


class ReopenInput(Carried):
    campaign_id: str
    retry: RetryFailed


class TellInput(Carried):
    campaign_id: str


_QUICK = RetryPolicy(maximum_interval=timedelta(seconds=10))


@workflow.defn(name=NAME)
class CampaignWorkflow:
    @workflow.init
    def __init__(self, inp: CampaignInput) -> None:
        self.req = inp.request
        self.poked = False
        self.retries: list[RetryFailed] = list(inp.retries)
        self.cancel_by: str | None = inp.cancel_by
        self.shown: tuple[object, ...] | None = None  # the board as last told in Slack

    @workflow.signal
    def poke(self) -> None:
        """A member's task moved (its record step says so): read the progress now, not at the next timer."""
        self.poked = True

    @workflow.signal
    def retry(self, asked: RetryFailed) -> None:
        self.retries.append(asked)

    @workflow.signal
    def cancel(self, asked: CancelRequest) -> None:
        self.cancel_by = self.cancel_by or asked.by

    def _asked(self) -> bool:
        return self.poked or bool(self.retries) or self.cancel_by is not None

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignOutcome:
        cid = self.req.campaign_id
        if not inp.selected:
            selected: Selected = await self._act(ACT_SELECT, SelectInput(request=self.req), Selected, minutes=30)
            if selected.ended is not None:
                await self._state(CampaignState.done, selected.ended)
                await self._tell()
                return CampaignOutcome(state=CampaignState.done, reason=selected.ended)
        while True:
            if self.cancel_by is not None:
                await self._act(ACT_CANCEL, CancelMembersInput(request=self.req, by=self.cancel_by), None, minutes=30)
                await self._state(CampaignState.cancelled, f"cancelled by {self.cancel_by}")
                await self._tell()
                return CampaignOutcome(state=CampaignState.cancelled, reason=f"cancelled by {self.cancel_by}")
            while self.retries:
                await self._act(ACT_REOPEN, ReopenInput(campaign_id=cid, retry=self.retries.pop(0)), None)
            self.poked = False
            progress: Progress = await self._act(
                ACT_PROGRESS, ProgressInput(campaign_id=cid, with_checks=self.req.settings.automerge), Progress
            )
            decision = policy.decide(progress.members, self.req.settings)
            if decision.skip:
                await self._act(ACT_SKIP, SkipInput(campaign_id=cid, skips=decision.skip), None)
            if decision.start:
                await asyncio.gather(
                    *(
                        self._act(ACT_START, StartMemberInput(request=self.req, repo=s.repo, cap_usd=s.cap_usd), None)
                        for s in decision.start
                    )
                )
            for repo in decision.merge:
                await self._act(ACT_MERGE, MergeMemberInput(request=self.req, repo=repo), None, minutes=60)
            acted = bool(decision.skip or decision.start or decision.merge)
            if decision.state.terminal and not acted and not self._asked():
                await self._state(decision.state, decision.reason)
                await self._tell()
                return CampaignOutcome(state=decision.state, reason=decision.reason)
            board = tuple((m.repo, m.status, m.attempt, m.task_state) for m in progress.members)
            if board != self.shown:
                self.shown = board
                await self._tell()
            if not acted:
                try:
                    await workflow.wait_condition(self._asked, timeout=timedelta(seconds=inp.poll_s))
                except TimeoutError:
                    pass  # the fallback timer: read the progress anyway
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > inp.history_events_limit:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    CampaignInput(
                        request=self.req,
                        poll_s=inp.poll_s,
                        selected=True,
                        retries=self.retries,
                        cancel_by=self.cancel_by,
                        history_events_limit=inp.history_events_limit,
                    )
                )

    async def _state(self, state: CampaignState, reason: str | None) -> None:
        await self._act(ACT_STATE, StateInput(campaign_id=self.req.campaign_id, state=state, reason=reason), None)

    async def _tell(self) -> None:
        """The campaign's one Slack message, posted or updated (only a campaign asked in Slack has one)."""
        if self.req.slack is None:
            return
        try:
            await self._act(ACT_TELL, TellInput(campaign_id=self.req.campaign_id), None, attempts=5)
        except ActivityError:
            workflow.logger.warning(
                "campaign %s: Slack not told (tried again at the next change)", self.req.campaign_id
            )

    async def _act(self, name: str, arg: Carried, result: type | None, minutes: float = 5, attempts: int = 0):  # noqa: ANN202
        """One campaign step by name; retried until it works (a step's refusals are data, not errors), or
        `attempts` times for a best-effort one."""
        retry = (
            _QUICK if not attempts else RetryPolicy(maximum_attempts=attempts, maximum_interval=timedelta(seconds=10))
        )
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result,
            start_to_close_timeout=timedelta(minutes=minutes),
            retry_policy=retry,
        )
