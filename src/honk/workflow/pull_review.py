"""`@honk review` on a pull request: a small workflow of its own, not a task (no branch, no commit, no
row). Its id names the pull request and the commit reviewed, so one head is reviewed once however often
it is asked (a redelivered webhook, a second mention); a push gives a new head and a new review.

The workflow, not the model, says what happened on the pull request: a review that could not be made
(a refusal, a budget, an outage) is told there as a comment, and the workflow fails (so that head may be
asked again).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from honk.workflow import policy
    from honk.workflow.records import PullReviewDone, PullReviewInput, PullReviewPost, PullReviewRan

NAME = "HonkPullReview"
USER_FACING = "UserFacingError"
MODEL_UNAVAILABLE = "ModelUnavailable"  # honk.agents.claude_errors: retried, then its message is shown


def workflow_id(inp: PullReviewInput) -> str:
    return policy.review_id(inp)


@workflow.defn(name=NAME)
class PullReviewWorkflow:
    @workflow.run
    async def run(self, inp: PullReviewInput) -> PullReviewDone:
        try:
            ran: PullReviewRan = await workflow.execute_activity(
                "pull_review_run",
                inp,
                result_type=PullReviewRan,
                start_to_close_timeout=timedelta(hours=2),  # the agent's own time budget ends it sooner
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s),
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=[USER_FACING]),
            )
        except ActivityError as e:
            reason = policy.review_failed_comment(inp.head_sha, _reason(e))
            await self._post(
                PullReviewPost(repo=inp.repo, number=inp.number, commit=inp.head_sha, body=reason, as_comment=True)
            )
            # Failed, not completed: the same head may be asked again (once the repo's config is fixed, say).
            raise ApplicationError(reason, type=USER_FACING, non_retryable=True) from e
        body, comments = policy.review_post(ran.answer, ran.changed_files, inp.head_sha, ran.agent)
        url = await self._post(
            PullReviewPost(repo=inp.repo, number=inp.number, commit=inp.head_sha, body=body, comments=comments)
        )
        return PullReviewDone(url=url, findings=len(ran.answer.findings))

    async def _post(self, post: PullReviewPost) -> str | None:
        return await workflow.execute_activity(
            "pull_review_post",
            post,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(
                maximum_attempts=5, maximum_interval=timedelta(seconds=30), non_retryable_error_types=[USER_FACING]
            ),
        )


def _reason(e: ActivityError) -> str:
    cause = e.cause
    if isinstance(cause, ApplicationError) and cause.type in (USER_FACING, MODEL_UNAVAILABLE):
        return cause.message
    return "Honk hit an internal error while reviewing; the worker's log has the details."
