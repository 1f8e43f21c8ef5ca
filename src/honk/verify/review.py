"""Honk's `Reviewer`: the test guard (always, deterministic) and the scope judge (an LLM, when an API key
is configured) read a change whose checks pass."""

from __future__ import annotations

from honk.domain import Review
from honk.verify import guard
from honk.verify.judge import Judge


class GuardAndJudge:
    def __init__(self, judge: Judge | None = None) -> None:
        self.judge = judge

    async def review(self, request: str, follow_ups: list[str], diff: str) -> Review:
        findings = [f.line() for f in guard.inspect(diff)]
        if self.judge is None:
            return Review(guard_findings=findings)
        verdict = await self.judge.review(request, follow_ups, diff)
        return Review(
            guard_findings=findings, judge_ok=verdict.ok, judge_reason=verdict.reason, judge_available=verdict.available
        )
