"""Best of N, as a person does it: `honk ask calc … --attempts 3` says what three attempts may cost before
anything starts, runs three independent tasks (the scripted agent plays attempt 2's own steps, whose change
fails the checks), ranks them (attempt 2 last, saying why), and the requester picks one: the others are
cancelled and their workspaces removed. Where the repo says `[attempts] auto_pick = true`, Honk picks the top
one itself once all settled. Hostile input at the new front doors is refused with words. Real `honk server`
and `honk worker` processes, the real Temporal dev server, real git remotes and the real CLI."""

from __future__ import annotations

import asyncio
import re

from honk.domain import AttemptsView, TaskState
from honk.events import AttemptPicked, TaskCancelled
from honk.store import Store
from honk.store.attempts import AttemptStore, StoredPick
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, WRONG_FIX, calc_files

POLICY = """
allow_unknown = false
[users."ada@example.com"]
[users."bo@example.com"]
[users."cy@example.com"]
[repos.calc]
requesters = ["ada@example.com", "bo@example.com"]
mergers = ["cy@example.com"]
"""
ADA, BO = {"X-Honk-User": "ada@example.com"}, {"X-Honk-User": "bo@example.com"}
# Every attempt fixes add() directly, but attempt 2, which multiplies: its checks fail, and one round is all.
SCENARIO = DIRECT_FIX + "\n[[attempt]]\nnumber = 2\n" + WRONG_FIX.replace("[[step", "[[attempt.step")
WAIT_S = 180.0


def _calc(extra: str = "") -> dict[str, str]:
    files = calc_files(SCENARIO, extra)
    files[".honk.toml"] = "max_rounds = 1\n" + files[".honk.toml"]
    return files


def _group(stack: HonkStack, group: str) -> AttemptsView:
    r = stack.http.get(f"/api/attempts/{group}")
    assert r.status_code == 200, r.text
    return AttemptsView.model_validate(r.json())


async def _claim_only(stack: HonkStack, pick: StoredPick) -> None:
    store = Store(stack.db_url)
    try:
        assert (await AttemptStore(store).claim_pick(pick))[1]
    finally:
        await store.close()


def _settled(stack: HonkStack, group: str) -> AttemptsView:
    wait_until(lambda: _group(stack, group).settled, WAIT_S, f"every attempt of {group} to settle ({stack.logs})")
    return _group(stack, group)


def _workspace(stack: HonkStack, task_id: str):  # noqa: ANN202 - a Path
    return stack.root / "data" / "workspaces" / task_id


def test_best_of_three_ranks_the_failing_attempt_last_and_the_pick_cancels_the_rest(temporal, make_remote, tmp_path):
    stack = HonkStack(tmp_path / "honk", temporal.address, policy=POLICY)
    try:
        stack.add_repo("calc", make_remote(_calc()).url)
        asked = ("--user", "ada@example.com", "ask", "calc", "make add() add", "--attempts", "3")

        declined = stack.honk(*asked, input="n\n")
        assert declined.returncode == 1, declined
        assert declined.stdout.startswith("3 attempts cost up to $15.00 (3 × $5.00 per task).\nStart them?")
        assert "Nothing was started." in declined.stderr
        assert stack.http.get("/api/tasks").json() == []  # the cost was said, and nothing started

        started = stack.honk(*asked, "--yes")
        assert started.returncode == 0, started.stderr
        first, *lines = started.stdout.splitlines()
        assert first == "3 attempts cost up to $15.00 (3 × $5.00 per task)."
        found = re.match(r"^(best-[0-9a-f]{12}): best of 3 on calc ", lines[0])
        assert found, started.stdout
        group = found.group(1)

        view = _settled(stack, group)
        assert [(a.attempt, a.rank, a.state) for a in view.attempts] == [
            (1, 1, TaskState.ready),
            (3, 2, TaskState.ready),
            (2, 3, TaskState.failed),
        ]
        assert view.attempts[0].why.startswith("ready; checks pass") and "+1 \u22121" in view.attempts[0].why
        assert view.attempts[2].why == "failed; checks fail"
        by_attempt = {a.attempt: a.task_id for a in view.attempts}

        # Hostile input at the new doors: refused with words, nothing started or picked.
        for n, said in ((0, "2 to 5 attempts; 0 were asked"), (1000, "Ask for at most 5")):
            r = stack.http.post("/api/attempts", json={"repo": "calc", "text": "x", "attempts": n}, headers=ADA)
            assert r.status_code == 400 and said in r.json()["detail"], r.text
        assert stack.http.get("/api/attempts/best-..%2F..%2Fetc").status_code == 404
        assert stack.http.get("/api/attempts/best-000000000000").status_code == 404
        outside = stack.http.post(f"/api/attempts/{group}/pick", json={"task_id": "t-elsewhere"}, headers=ADA)
        assert outside.status_code == 404 and "is not an attempt of" in outside.json()["detail"]
        failed = stack.http.post(f"/api/attempts/{group}/pick", json={"task_id": by_attempt[2]}, headers=ADA)
        assert failed.status_code == 409 and "only an attempt that is ready" in failed.json()["detail"]
        stranger = stack.http.post(f"/api/attempts/{group}/pick", json={"task_id": by_attempt[1]}, headers=BO)
        assert stranger.status_code == 403 and "may not cancel ada@example.com's task" in stranger.json()["detail"]
        assert len(stack.http.get("/api/tasks").json()) == 3

        # A pick interrupted right after its claim (the process gone before its event and the cancels): the
        # claim is all that is stored, and the same pick again finishes it.
        asyncio.run(
            _claim_only(stack, StoredPick(group=group, task_id=by_attempt[1], attempt=1, picked_by="ada@example.com"))
        )
        assert stack.http.get(f"/api/attempts/{group}").json()["picked"] == by_attempt[1]
        assert not [e for e in stack.events(by_attempt[1]) if isinstance(e.event, AttemptPicked)]
        assert stack.task(by_attempt[3]).state == TaskState.ready, "nothing cancelled by the claim alone"
        picked = stack.honk("--user", "ada@example.com", "attempts", "pick", group, by_attempt[1])
        assert picked.returncode == 0, picked.stderr
        assert f"attempt 1  {by_attempt[1]}  ready; checks pass" in picked.stdout and "(picked)" in picked.stdout
        cancelled = stack.wait_for(by_attempt[3], TaskState.cancelled)
        assert cancelled.state == TaskState.cancelled
        cancels = [e.event for e in stack.events(by_attempt[3]) if isinstance(e.event, TaskCancelled)]
        assert [c.by for c in cancels] == ["best of N: attempt 1 was picked"]
        assert [e.event for e in stack.events(by_attempt[1]) if isinstance(e.event, AttemptPicked)] == [
            AttemptPicked(by="ada@example.com", attempt=1, rank=1, of=3)
        ]
        # No orphan workspaces: the cancelled and the failed attempt's are gone; the picked one waits to merge.
        wait_until(lambda: not _workspace(stack, by_attempt[3]).exists(), 30, "the cancelled attempt's workspace")
        assert not _workspace(stack, by_attempt[2]).exists() and _workspace(stack, by_attempt[1]).exists()
        assert stack.task(by_attempt[1]).state == TaskState.ready

        shown = stack.honk("attempts", "show", group)
        assert shown.returncode == 0 and "picked by ada@example.com" in shown.stdout
        page = stack.http.get(f"/attempts/{group}")
        assert page.status_code == 200 and "Attempt 1 was picked by ada@example.com" in page.text
        assert 'id="pick-' not in page.text  # no Pick button once one was picked
        again = stack.http.post(f"/api/attempts/{group}/pick", json={"task_id": by_attempt[1]}, headers=ADA)
        assert again.status_code == 202, "the same pick again changes nothing"
        assert len([e for e in stack.events(by_attempt[1]) if isinstance(e.event, AttemptPicked)]) == 1
        other = stack.http.post(f"/api/attempts/{group}/pick", json={"task_id": by_attempt[3]}, headers=ADA)
        assert other.status_code == 409 and "already picked by ada@example.com" in other.json()["detail"]
    finally:
        stack.stop()


def test_where_the_repo_allows_it_honk_picks_the_top_attempt_itself(temporal, make_remote, tmp_path):
    stack = HonkStack(tmp_path / "honk", temporal.address, policy=POLICY)
    try:
        stack.add_repo("calc", make_remote(_calc("[attempts]\nauto_pick = true\n")).url)
        form = stack.http.get("/new").text  # the new-task form: an Attempts field, its cost said beside it
        assert 'data-attempts-api="/api/attempts"' in form and 'id="attempts"' in form and 'id="attempts-cost"' in form
        estimate = stack.http.get("/api/attempts/estimate", params={"repo": "calc", "n": 3})
        assert estimate.json()["line"] == "3 attempts cost up to $15.00 (3 × $5.00 per task)."
        r = stack.http.post(
            "/api/attempts", json={"repo": "calc", "text": "make add() add", "attempts": 3}, headers=ADA
        )
        assert r.status_code == 201, r.text
        group = r.json()["group"]
        wait_until(lambda: _group(stack, group).picked is not None, WAIT_S, f"Honk to pick in {group} ({stack.logs})")
        view = _settled(stack, group)
        top = view.attempts[0]
        assert (top.attempt, view.picked, view.picked_by) == (1, top.task_id, "honk (best of N)")
        others = {a.attempt: a for a in view.attempts[1:]}
        assert others[2].state == TaskState.failed
        assert stack.wait_for(others[3].task_id, TaskState.cancelled).state == TaskState.cancelled
        assert stack.task(top.task_id).state == TaskState.ready  # merging stays the usual merge
    finally:
        stack.stop()
