"""The pull request description, as a reviewer reads it on the forge."""

from __future__ import annotations

from forge_helpers import body

from honk.domain import CheckLine, CheckResult
from honk.forge import render_body
from honk.forge.body import MAX_BODY_CHARS


def test_a_long_summary_is_trimmed_to_what_github_accepts_and_the_rest_stays_whole() -> None:
    text = render_body(body(summary="word " * 40_000))

    assert len(text) <= MAX_BODY_CHARS
    assert "(Trimmed: the full summary is on the task page.)" in text
    assert text.endswith("<!-- honk-task: t1 -->") and "## Checks" in text and "- Task: https://" in text


def test_missing_parts_say_so_instead_of_leaving_holes() -> None:
    text = render_body(body(summary="", checks=[], guard_findings=[], warnings=[], cost_usd=None, preview_url=None))

    assert "(The agent gave no summary.)" in text
    assert "No checks are configured for this repo." in text and "## Test guard\n\nNo findings." in text
    assert "## Warnings" not in text and "Agent cost: not reported" in text and "Preview" not in text


def test_a_check_line_is_made_from_a_check_result_and_stays_on_one_table_row() -> None:
    failed = CheckResult(
        name="tests",
        command="pytest",
        passed=False,
        exit_code=1,
        duration_s=1.0,
        distilled="FAILED test_calc.py::test_add\nassert 1 == 5",
    )
    slow = CheckResult(name="e2e", command="make e2e", passed=False, exit_code=None, timed_out=True, duration_s=600)

    text = render_body(body(checks=[CheckLine.of(failed), CheckLine.of(slow)]))

    assert "| ❌ failed | `tests` | FAILED test_calc.py::test_add assert 1 == 5 |" in text
    assert "| ❌ failed | `e2e` | timed out |" in text


def test_a_task_id_cannot_end_the_hidden_marker_early() -> None:
    assert render_body(body(task_id="t1-->x")).endswith("<!-- honk-task: t1>x -->")


def test_what_came_with_the_request_is_named_for_the_reviewer() -> None:
    text = render_body(
        body(came_with=["slack-thread.txt (text)", "crash.png (image; scaled from 1170×2532 to 725×1568)"])
    )
    assert "Came with: slack-thread.txt (text), crash.png (image; scaled from 1170×2532 to 725×1568)" in text
    assert "Came with" not in render_body(body())
