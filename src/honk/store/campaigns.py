"""Campaigns and their members (honk.campaigns): the campaign workflow's truth. The workflow carries only
small state across continue-as-new; what each member is (waiting, started with which task, refused,
skipped) and which attempt it is on lives here, and the tasks' own rows say how far each got.

Nothing here decides anything: the campaign policy (honk.workflow.campaign_policy) decides, the service
(honk.campaigns) checks who may act.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import case, delete, null, select, update
from sqlalchemy.exc import IntegrityError

from honk.domain import (
    AskedAs,
    CampaignMember,
    CampaignRequest,
    CampaignSettings,
    CampaignState,
    CampaignView,
    MemberProgress,
    MemberStatus,
    RepoSelector,
    SlackThread,
    TaskState,
)
from honk.store.models import CampaignMemberRow, CampaignRow, TaskRow
from honk.store.store import Store, _utc, _view
from honk.timeline import Timeline

_UNSET: object = object()


def _now() -> datetime:
    return datetime.now(UTC)


class CampaignStore:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    # -- campaigns ------------------------------------------------------------------------------
    async def create(self, req: CampaignRequest) -> tuple[CampaignView, bool]:
        """Records a new campaign (state "selecting", no members yet); one with the same request id is
        answered instead (created False), so a retried start makes nothing twice."""
        if (known := await self.by_request(req.request_id)) is not None:
            return known, False
        now = _now()
        row = CampaignRow(
            id=req.campaign_id,
            request_id=req.request_id,
            text=req.text,
            selector=req.selector.model_dump(mode="json"),
            settings=req.settings.model_dump(mode="json"),
            state=CampaignState.selecting.value,
            reason="",
            requested_by=req.requested_by,
            front_door=req.front_door,
            agent=req.agent,
            model=req.model,
            slack=req.slack.model_dump(mode="json") if req.slack else None,
            slack_ts=None,
            asked_as=req.asked_as.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        async with self._writing() as s:
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:  # lost a race with the same request: that one is the campaign
                await s.rollback()
                again = await self.by_request(req.request_id)
                if again is None:
                    raise
                return again, False
        return _campaign(row, []), True

    async def delete(self, campaign_id: str) -> None:
        """A campaign whose workflow Temporal refused to start: nothing half-made stays (members go with it)."""
        async with self._writing() as s:
            await s.execute(delete(CampaignMemberRow).where(CampaignMemberRow.campaign_id == campaign_id))
            await s.execute(delete(CampaignRow).where(CampaignRow.id == campaign_id))
            await s.commit()

    async def by_request(self, request_id: str) -> CampaignView | None:
        async with self._session() as s:
            row = (await s.scalars(select(CampaignRow).where(CampaignRow.request_id == request_id))).first()
        return await self.get(row.id) if row is not None else None

    async def get(self, campaign_id: str) -> CampaignView | None:
        """The campaign, each member with its latest task's view (one query for the members and tasks)."""
        async with self._session() as s:
            row = await s.get(CampaignRow, campaign_id)
            if row is None:
                return None
            members = await self._members(s, [campaign_id])
        return _campaign(row, members.get(campaign_id, []))

    async def listed(self, limit: int = 50) -> list[CampaignView]:
        """The newest campaigns first, with their members (two queries, whatever the number)."""
        q = select(CampaignRow).order_by(CampaignRow.created_at.desc(), CampaignRow.id).limit(limit)
        async with self._session() as s:
            rows = (await s.scalars(q)).all()
            members = await self._members(s, [r.id for r in rows])
        return [_campaign(r, members.get(r.id, [])) for r in rows]

    async def request(self, campaign_id: str) -> CampaignRequest | None:
        """The campaign as it was asked (what its workflow starts from)."""
        async with self._session() as s:
            row = await s.get(CampaignRow, campaign_id)
        if row is None:
            return None
        return CampaignRequest(
            campaign_id=row.id,
            request_id=row.request_id,
            text=row.text,
            selector=RepoSelector.model_validate(row.selector),
            settings=CampaignSettings.model_validate(row.settings),
            requested_by=row.requested_by,
            front_door=row.front_door,  # type: ignore[arg-type]  # written from a FrontDoor
            agent=row.agent,
            model=row.model,
            slack=SlackThread.model_validate(row.slack) if row.slack else None,
            asked_as=AskedAs.model_validate(row.asked_as) if row.asked_as else AskedAs(),
        )

    async def set_state(self, campaign_id: str, state: CampaignState, reason: str | None = None) -> None:
        values: dict[str, object] = {"state": state.value, "updated_at": _now()}
        if reason is not None:
            values["reason"] = reason
        await self._update_campaign(campaign_id, values)

    async def set_slack_ts(self, campaign_id: str, ts: str) -> None:
        await self._update_campaign(campaign_id, {"slack_ts": ts})

    async def slack_ts(self, campaign_id: str) -> str | None:
        async with self._session() as s:
            row = await s.get(CampaignRow, campaign_id)
        return row.slack_ts if row is not None else None

    async def _update_campaign(self, campaign_id: str, values: dict[str, object]) -> None:
        async with self._writing() as s:
            result = await s.execute(update(CampaignRow).where(CampaignRow.id == campaign_id).values(**values))
            await s.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"no campaign {campaign_id}")

    # -- members --------------------------------------------------------------------------------
    async def add_members(
        self,
        campaign_id: str,
        repos: Sequence[str],
        wave_size: int,
        status: MemberStatus = "waiting",
        reason: str = "",
    ) -> int:
        """Adds the repos not yet members, in order after those there: the first `wave_size` of the whole
        campaign are its first wave. Returns how many were added (a retried call adds none)."""
        async with self._writing() as s:
            q = select(CampaignMemberRow.repo, CampaignMemberRow.position).where(
                CampaignMemberRow.campaign_id == campaign_id
            )
            have = {repo: position for repo, position in (await s.execute(q)).all()}
            position = max(have.values(), default=-1) + 1
            added = 0
            for repo in dict.fromkeys(repos):
                if repo in have:
                    continue
                s.add(
                    CampaignMemberRow(
                        campaign_id=campaign_id,
                        repo=repo,
                        position=position,
                        attempt=1,
                        wave=1 if position < wave_size else 2,
                        status=status,
                        reason=reason,
                        task_id=None,
                        instruction="",
                        cost_cap_usd=None,
                        earlier_cost_usd=0.0,
                        merge_tried=False,
                    )
                )
                position += 1
                added += 1
            await s.commit()
        return added

    async def set_member(
        self,
        campaign_id: str,
        repo: str,
        *,
        status: MemberStatus | None = None,
        reason: str | None = None,
        task_id: str | None | object = _UNSET,
        attempt: int | None = None,
        cost_cap_usd: float | None | object = _UNSET,
        merge_tried: bool | None = None,
    ) -> None:
        """Changes what is given of one member (the rest stays)."""
        values: dict[str, object] = {}
        for name, value in (("status", status), ("reason", reason), ("attempt", attempt), ("merge_tried", merge_tried)):
            if value is not None:
                values[name] = value
        if task_id is not _UNSET:
            values["task_id"] = task_id
        if cost_cap_usd is not _UNSET:
            values["cost_cap_usd"] = cost_cap_usd
        if not values:
            return
        q = update(CampaignMemberRow).where(
            CampaignMemberRow.campaign_id == campaign_id, CampaignMemberRow.repo == repo
        )
        async with self._writing() as s:
            result = await s.execute(q.values(**values))
            await s.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"campaign {campaign_id} has no member {repo}")

    async def skip_waiting(self, campaign_id: str, repos: Sequence[str], reason: str) -> int:
        """The waiting members among `repos` become "skipped" with `reason` (a started one is left alone:
        skipping never races a start). Returns how many."""
        if not repos:
            return 0
        q = (
            update(CampaignMemberRow)
            .where(
                CampaignMemberRow.campaign_id == campaign_id,
                CampaignMemberRow.repo.in_(list(repos)),
                CampaignMemberRow.status == "waiting",
            )
            .values(status="skipped", reason=reason)
        )
        async with self._writing() as s:
            result = await s.execute(q)
            await s.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def reopen(self, campaign_id: str, repos: Sequence[str], instruction: str, held_back: str) -> list[str]:
        """A retry: each of `repos` whose latest task failed or was cancelled gets a new attempt (waiting,
        `instruction` added to its request, what the failed attempt spent kept as earlier cost); members
        skipped with a reason starting `held_back` (a halted first wave held them) wait again too, since
        the first wave is judged again. Returns the repos given a new attempt."""
        reopened: list[str] = []
        async with self._writing() as s:
            q = (
                select(CampaignMemberRow, TaskRow.state, TaskRow.cost_usd)
                .outerjoin(TaskRow, TaskRow.id == CampaignMemberRow.task_id)
                .where(CampaignMemberRow.campaign_id == campaign_id)
            )
            for member, state, cost in (await s.execute(q)).all():
                ended = state in (TaskState.failed.value, TaskState.cancelled.value)
                if member.repo in repos and member.status == "started" and ended:
                    member.attempt += 1
                    member.earlier_cost_usd = (member.earlier_cost_usd or 0.0) + (cost or 0.0)
                    member.status, member.reason, member.task_id = "waiting", "", None
                    member.instruction, member.cost_cap_usd, member.merge_tried = instruction, None, False
                    reopened.append(member.repo)
                elif member.status == "skipped" and member.reason.startswith(held_back):
                    member.status, member.reason = "waiting", ""
            await s.commit()
        return reopened

    async def member(self, campaign_id: str, repo: str) -> MemberProgress | None:
        found = await self._progress(campaign_id, repo=repo)
        return found[0] if found else None

    async def progress(self, campaign_id: str, with_checks: bool = False) -> list[MemberProgress]:
        """Every member as the policy decides on it, in the campaign's order: one query. `with_checks`:
        whether each ready task's checks passed (its timeline is read only for ready tasks)."""
        return await self._progress(campaign_id, with_checks=with_checks)

    async def _progress(
        self, campaign_id: str, repo: str | None = None, with_checks: bool = False
    ) -> list[MemberProgress]:
        timeline = (
            case((TaskRow.state == TaskState.ready.value, TaskRow.timeline), else_=null()) if with_checks else null()
        )
        q = (
            select(CampaignMemberRow, TaskRow.state, TaskRow.cost_usd, timeline)
            .outerjoin(TaskRow, TaskRow.id == CampaignMemberRow.task_id)
            .where(CampaignMemberRow.campaign_id == campaign_id)
            .order_by(CampaignMemberRow.position)
        )
        if repo is not None:
            q = q.where(CampaignMemberRow.repo == repo)
        async with self._session() as s:
            rows = (await s.execute(q)).all()
        out = []
        for member, state, cost, folded in rows:
            passed = _checks_passed(Timeline.model_validate(folded)) if folded else None
            out.append(
                MemberProgress(
                    repo=member.repo,
                    wave=member.wave,
                    status=member.status,  # type: ignore[arg-type]  # written from a MemberStatus
                    attempt=member.attempt,
                    reason=member.reason or "",
                    task_id=member.task_id,
                    task_state=TaskState(state) if state else None,
                    cost_usd=cost,
                    cost_cap_usd=member.cost_cap_usd,
                    earlier_cost_usd=member.earlier_cost_usd or 0.0,
                    checks_passed=passed,
                    merge_tried=bool(member.merge_tried),
                    instruction=member.instruction or "",
                )
            )
        return out

    @staticmethod
    async def _members(s, campaign_ids: list[str]) -> dict[str, list[CampaignMember]]:  # noqa: ANN001 - a session
        if not campaign_ids:
            return {}
        q = (
            select(CampaignMemberRow, TaskRow)
            .outerjoin(TaskRow, TaskRow.id == CampaignMemberRow.task_id)
            .where(CampaignMemberRow.campaign_id.in_(campaign_ids))
            .order_by(CampaignMemberRow.campaign_id, CampaignMemberRow.position)
        )
        out: dict[str, list[CampaignMember]] = {}
        for member, task in (await s.execute(q)).all():
            timeline = Timeline.model_validate(task.timeline) if task is not None and task.timeline else None
            pull_request = timeline.pull_request if timeline is not None else None
            out.setdefault(member.campaign_id, []).append(
                CampaignMember(
                    repo=member.repo,
                    attempt=member.attempt,
                    wave=member.wave,
                    status=member.status,  # type: ignore[arg-type]  # written from a MemberStatus
                    reason=member.reason or "",
                    task=_view(task) if task is not None else None,
                    checks_passed=_checks_passed(timeline) if timeline is not None else None,
                    pull_request_url=pull_request.url if pull_request is not None else "",
                    cost_cap_usd=member.cost_cap_usd,
                )
            )
        return out


def _checks_passed(timeline: Timeline) -> bool | None:
    """Whether the task's checks passed, as they last ran (None: none ran)."""
    if not timeline.checks:
        return None
    return all(c.passed for c in timeline.checks.values())


def _campaign(row: CampaignRow, members: list[CampaignMember]) -> CampaignView:
    return CampaignView(
        id=row.id,
        text=row.text,
        selector=RepoSelector.model_validate(row.selector),
        settings=CampaignSettings.model_validate(row.settings),
        state=CampaignState(row.state),
        requested_by=row.requested_by,
        front_door=row.front_door,  # type: ignore[arg-type]  # written from a FrontDoor
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        reason=row.reason or "",
        members=members,
    )
