"""The agent ⇄ checks loop in process: rounds, feedback, giving up, the review's second chance,
budgets, and refusals. Every test ends with the workflow and Honk's store agreeing on the state."""

from __future__ import annotations

from harness import CHANGED, CHECKS, Bench, Script, failed

from honk.domain import AgentOutcome, AgentSettings, BuildSpec, TaskState
from honk.errors import UserFacingError
from honk.events import ChecksFailed, TaskFailed
from honk.workflow.records import AgentRunInput, AgentRunResult, BuildResult, ReviewResult


def spending(turns: int = 0, cost: float | None = None) -> AgentRunResult:
    return AgentRunResult(
        outcome=AgentOutcome(summary="tried", turns=turns, cost_usd=cost), commit="c1", changed_files=[]
    )


def jobs(calls: list[AgentRunInput]) -> list[tuple[int, str]]:
    return [(c.job.round, c.job.reason) for c in calls]


async def failure(task) -> str:  # noqa: ANN001 - a harness Task
    return next(e.reason for e in await task.events() if isinstance(e, TaskFailed))


async def test_a_change_that_passes_is_ready_in_one_round(bench: Bench) -> None:
    async with bench.task() as task:
        await task.settles_in(TaskState.ready)
        assert jobs(task.fakes.calls["run_agent"]) == [(1, "request")]
        assert await task.kinds() == [
            "task_accepted",
            "workspace_preparing",
            "workspace_ready",
            "agent_started",
            "agent_finished",
            "checks_started",
            "check_finished",
            "change_reviewed",
            "task_ready",  # no build (the repo has none): no build step either
        ]
        assert "build" not in task.fakes.calls
        assert [c.review for c in task.fakes.calls["verify"]] == [True], "verify was asked to review too"


async def test_failing_checks_go_back_to_the_agent_with_their_feedback(bench: Bench) -> None:
    async with bench.task(Script(verify=[failed("test_add: 1 != 2")])) as task:
        await task.settles_in(TaskState.ready)
        calls = task.fakes.calls["run_agent"]
        assert jobs(calls) == [(1, "request"), (2, "check_feedback")]
        assert "test_add: 1 != 2" in calls[1].job.prompt and "make add() add" in calls[1].job.prompt
        said = [e for e in await task.events() if isinstance(e, ChecksFailed)]
        assert [(e.round, e.giving_up) for e in said] == [(1, False)]


async def test_the_task_gives_up_when_its_rounds_are_spent(bench: Bench) -> None:
    script = Script(max_rounds=2, verify=[failed("E1 first"), failed("E2 second")])
    async with bench.task(script) as task:
        await task.ends(TaskState.failed)
        said = [e for e in await task.events() if isinstance(e, ChecksFailed)]
        assert [(e.round, e.giving_up) for e in said] == [(1, False), (2, True)]
        reason = await failure(task)
        assert "after 2 rounds (E2 second)" in reason and f"honk/{task.task_id}" in reason
        assert len(task.fakes.calls["cleanup"]) == 1
        assert "build" not in task.fakes.calls and "deliver" not in task.fakes.calls


async def test_a_failing_build_is_feedback_like_a_failing_check(bench: Bench) -> None:
    built = CHECKS.model_copy(update={"build": BuildSpec(run="npm run build", artifacts=["dist"])})
    script = Script(config=built, build=[BuildResult(ok=False, failure="vite: cannot resolve ./App")])
    async with bench.task(script) as task:
        await task.settles_in(TaskState.ready)
        calls = task.fakes.calls["run_agent"]
        assert jobs(calls) == [(1, "request"), (2, "check_feedback")]
        assert "vite: cannot resolve ./App" in calls[1].job.prompt
        assert len(task.fakes.calls["build"]) == 2


async def test_a_review_veto_gets_another_round(bench: Bench) -> None:
    veto = ReviewResult(ok=False, feedback="the change also rewrites README.md", warnings=["out of scope"])
    async with bench.task(Script(review=[veto])) as task:
        await task.settles_in(TaskState.ready)
        calls = task.fakes.calls["run_agent"]
        assert jobs(calls) == [(1, "request"), (2, "review")]
        assert "rewrites README.md" in calls[1].job.prompt
        assert task.fakes.calls["deliver"][-1].warnings == []  # the second review found nothing


async def test_a_verify_that_did_not_review_leaves_it_to_the_review_step(bench: Bench) -> None:
    """A worker from before verify reviewed ignores the ask: the workflow then schedules the review."""
    veto = ReviewResult(ok=False, feedback="the change also rewrites README.md", warnings=["out of scope"])
    async with bench.task(Script(verify_reviews=False, review=[veto])) as task:
        await task.settles_in(TaskState.ready)
        assert jobs(task.fakes.calls["run_agent"]) == [(1, "request"), (2, "review")]
        assert [type(c).__name__ for c in task.fakes.calls["review"]] == ["ReviewInput", "ReviewInput"]


async def test_a_veto_in_the_last_round_is_delivered_as_a_warning(bench: Bench) -> None:
    veto = ReviewResult(ok=False, feedback="scope", warnings=["tests were weakened: test_add"])
    async with bench.task(Script(max_rounds=1, review=[veto])) as task:
        await task.settles_in(TaskState.ready)
        assert len(task.fakes.calls["run_agent"]) == 1
        assert task.fakes.calls["deliver"][0].warnings == ["tests were weakened: test_add"]


async def test_an_agent_that_changes_nothing_fails_the_task(bench: Bench) -> None:
    unchanged = AgentRunResult(outcome=AgentOutcome(summary="it already adds"), commit=None, changed_files=[])
    async with bench.task(Script(agent=[unchanged])) as task:
        await task.ends(TaskState.failed)
        reason = await failure(task)
        assert "without changing any file" in reason and "it already adds" in reason


async def test_the_turn_budget_is_per_task_and_each_run_gets_what_is_left(bench: Bench) -> None:
    config = CHECKS.model_copy(update={"agent": AgentSettings(max_turns=5)})
    script = Script(config=config, max_rounds=5, agent=[spending(turns=3)] * 3, verify=[failed()] * 5)
    async with bench.task(script) as task:
        await task.ends(TaskState.failed)
        calls = task.fakes.calls["run_agent"]
        assert [c.job.settings.max_turns for c in calls] == [5, 2]
        reason = await failure(task)
        assert "turn budget is used up" in reason and f"honk/{task.task_id}" in reason


async def test_the_cost_budget_stops_the_task_the_same_way(bench: Bench) -> None:
    config = CHECKS.model_copy(update={"agent": AgentSettings(max_cost_usd=1.0)})
    script = Script(config=config, max_rounds=5, agent=[spending(cost=0.6)] * 3, verify=[failed()] * 5)
    async with bench.task(script) as task:
        await task.ends(TaskState.failed)
        settings = [c.job.settings.max_cost_usd for c in task.fakes.calls["run_agent"]]
        assert settings[0] == 1.0 and abs(settings[1] - 0.4) < 1e-9 and len(settings) == 2
        assert "cost budget is used up" in await failure(task)


async def test_a_step_refusal_fails_the_task_with_its_message(bench: Bench) -> None:
    refusal = UserFacingError("The model API refused the key: check HONK_ANTHROPIC_API_KEY on the worker.")
    async with bench.task(Script(agent=[refusal])) as task:
        await task.ends(TaskState.failed)
        assert await failure(task) == refusal.message
        assert len(task.fakes.calls["run_agent"]) == 1  # a person must act: not retried
        assert len(task.fakes.calls["cleanup"]) == 1


async def test_unchanged_rounds_keep_the_session_and_model(bench: Bench) -> None:
    first = CHANGED.model_copy(update={"outcome": AgentOutcome(summary="a", session_id="s-1", model="m-1")})
    async with bench.task(Script(agent=[first], verify=[failed()])) as task:
        await task.settles_in(TaskState.ready)
        second = task.fakes.calls["run_agent"][1].job
        assert (second.session_id, second.invocation) == ("s-1", 1)
