"""Network allowances: hosts a repo's admins allowed some of its phases to reach (`honk network allow`,
the "Allow host for this repo" button), beside what its `.honk.toml` lists. A worker reads them for
each sandbox's egress policy (honk.egress.policies), always within the operator's ceiling; nothing here
decides who may: TaskService asks the gate first, and checks the ceiling.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from honk.domain import HostAllowance, Phase
from honk.network import PHASES, Allowance, allowance_host, allowance_phases
from honk.store.models import RepoNetworkAllowanceRow
from honk.store.store import Store


class NetworkAllowances:
    """The hosts admins allowed each repo, in Honk's store."""

    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def allow(
        self, repo: str, host: str, phases: Iterable[str], by: str
    ) -> tuple[HostAllowance, tuple[Phase, ...]]:
        """Allows `host` for `phases` of the repo (which must exist), adding them to the phases it already
        has; returns the allowance and the phases that are new (none: it already had them all)."""
        host, wanted = allowance_host(host), allowance_phases(phases)
        for attempt in range(2):
            now = datetime.now(UTC)
            async with self._writing() as s:
                row = await s.get(RepoNetworkAllowanceRow, (repo, host))
                added: tuple[Phase, ...] = wanted
                if row is None:
                    row = RepoNetworkAllowanceRow(
                        repo=repo,
                        host=host,
                        phases=list(wanted),
                        created_at=now,
                        created_by=by,
                        updated_at=now,
                        updated_by=by,
                    )
                    s.add(row)
                else:
                    added = tuple(p for p in wanted if p not in row.phases)
                    if added:
                        row.phases = [p for p in PHASES if p in row.phases or p in added]
                        row.updated_at, row.updated_by = now, by
                try:
                    await s.commit()
                except IntegrityError:
                    if attempt:
                        raise
                    continue  # someone allowed the same host just now: add to theirs
            return _record(row), added
        raise AssertionError("unreachable")

    async def listed(self, repo: str) -> list[HostAllowance]:
        """The repo's allowances by host, with who allowed each and when."""
        q = select(RepoNetworkAllowanceRow).where(RepoNetworkAllowanceRow.repo == repo)
        async with self._session() as s:
            rows = (await s.scalars(q.order_by(RepoNetworkAllowanceRow.host))).all()
        return [_record(r) for r in rows]

    async def allowances(self, repo: str) -> list[Allowance]:
        """What the repo's egress policies are made with (honk.egress.policies.AllowanceReads)."""
        return [Allowance(a.host, tuple(a.phases), a.updated_by) for a in await self.listed(repo)]

    async def remove(self, repo: str, host: str) -> bool:
        """False when the repo has no allowance for that host."""
        host = allowance_host(host)
        async with self._writing() as s:
            result = await s.execute(
                delete(RepoNetworkAllowanceRow).where(
                    RepoNetworkAllowanceRow.repo == repo, RepoNetworkAllowanceRow.host == host
                )
            )
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]  # a DELETE's CursorResult


def _record(row: RepoNetworkAllowanceRow) -> HostAllowance:
    return HostAllowance(
        host=row.host,
        phases=[p for p in PHASES if p in row.phases],  # a phase Honk no longer has is dropped
        created_at=_aware(row.created_at),
        created_by=row.created_by,
        updated_at=_aware(row.updated_at),
        updated_by=row.updated_by,
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no time zone; Honk writes UTC
