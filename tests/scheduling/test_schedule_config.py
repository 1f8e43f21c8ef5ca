"""`[[schedule]]` as a person writes it: cron checked field by field (the error says the line and the
fix), names unique, and what a sync does decided purely from what the file wants and Temporal has."""

from __future__ import annotations

import pytest

from honk.domain import ScheduleSpec, cron_problem
from honk.errors import InvalidRepoConfig
from honk.scheduling import ScheduleFired, fire_id, plan_sync, schedule_id
from honk.verify.config import parse_repo_config


def entry(cron: str = "0 3 * * 1-5", name: str = "nightly", extra: str = "") -> str:
    return f'[merge]\nmode = "merge"\n\n[[schedule]]\nname = "{name}"\ncron = "{cron}"\nprompt = "bump deps"\n{extra}'


@pytest.mark.parametrize(
    "cron",
    ["* * * * *", "0 3 * * 1-5", "*/15 0-6,22,23 1,15 jan-jun mon-fri", "0 0 1 */2 sun", "5 4 * * 7", " 0  3 * * * "],
)
def test_good_cron_is_taken(cron: str):
    assert cron_problem(cron) is None
    assert parse_repo_config(entry(cron)).schedule[0].cron == " ".join(cron.split())


@pytest.mark.parametrize(
    ("cron", "said"),
    [
        ("0 3 * *", "must have 5 fields (minute hour day-of-month month day-of-week)"),
        ("0 0 3 * * *", "it has 6"),
        ("@daily", "it has 1"),
        ("", "it has 0"),
        ("60 * * * *", "bad minute field '60': each value must be from 0 to 59"),
        ("0 24 * * *", "bad hour field '24'"),
        ("0 0 0 * *", "bad day of month field '0': each value must be from 1 to 31"),
        ("0 0 * 13 *", "bad month field '13': each value must be from 1 to 12 or a name (jan, feb, mar, ...)"),
        ("0 0 * * fri-mon", "a range must go from the lower value to the higher"),
        ("*/0 * * * *", "a step must be from 1 to 59"),
        ("0 3 ? * *", "use numbers, '*', ranges like 1-5"),
        ("0 3 * * L", "bad day of week field 'L'"),
        ("1-2-3 * * * *", "use numbers"),
        ("0 3 * * " + "1," * 5000 + "1", None),  # long, but every value is right
    ],
)
def test_bad_cron_says_which_field_and_the_fix(cron: str, said: str | None):
    problem = cron_problem(cron)
    if said is None:
        assert problem is None
        return
    assert problem is not None and said in problem
    with pytest.raises(InvalidRepoConfig) as e:
        parse_repo_config(entry(cron))
    message = str(e.value)
    assert message.startswith(".honk.toml line 6: schedule[0].cron "), message
    assert 'like "0 3 * * 1-5"' in message


def test_names_are_unique_and_plain_and_keys_known():
    twice = entry() + "\n" + entry(name="nightly").split("\n\n", 1)[1]
    with pytest.raises(
        InvalidRepoConfig, match=r'line 10: schedule\[1\]\.name "nightly" is already used by schedule\[0\]'
    ):
        parse_repo_config(twice)
    with pytest.raises(InvalidRepoConfig, match=r"schedule\[0\]\.name must be made of a-z, 0-9, _ and - only"):
        parse_repo_config(entry(name="Night ly"))
    with pytest.raises(InvalidRepoConfig, match=r"unknown key schedule\[0\]\.channel"):
        parse_repo_config(entry(extra='channel = "C0123ABCD"\n'))
    with pytest.raises(InvalidRepoConfig, match=r'schedule\[0\]\.notify must be a Slack channel id like "C0123ABCD"'):
        parse_repo_config(entry(extra='notify = "#general"\n'))
    with pytest.raises(InvalidRepoConfig, match=r"schedule\[0\]\.prompt is required"):
        parse_repo_config('[[schedule]]\nname = "a"\ncron = "* * * * *"\n')
    with pytest.raises(InvalidRepoConfig, match=r"must be an array of tables, written \[\[schedule\]\]"):
        parse_repo_config('[schedule]\nname = "a"\n')
    full = parse_repo_config(entry(extra='agent = "scripted"\nnotify = "C0123ABCD"\npaused = true\n')).schedule[0]
    assert (full.agent, full.notify, full.paused) == ("scripted", "C0123ABCD", True)


def fire(name: str, prompt: str = "p", paused: bool = False) -> ScheduleFired:
    return ScheduleFired(repo="calc", spec=ScheduleSpec(name=name, prompt=prompt, cron="0 3 * * *", paused=paused))


def test_sync_plan_creates_updates_deletes_and_leaves_the_same_alone():
    plan = plan_sync(
        "calc",
        wanted=[fire("new"), fire("changed", prompt="new words"), fire("same"), fire("paused", paused=True)],
        existing=[fire("gone"), fire("changed"), fire("same"), fire("paused"), fire("also-gone")],
    )
    assert plan.created == ["new"]
    assert plan.updated == ["changed", "paused"]
    assert plan.deleted == ["also-gone", "gone"]
    assert plan.unchanged == ["same"]
    assert plan_sync("calc", [], []).model_dump() == {
        "repo": "calc",
        "commit": "",
        "created": [],
        "updated": [],
        "deleted": [],
        "unchanged": [],
    }
    assert plan_sync("calc", [], [fire("a")]).deleted == ["a"]  # a file without [[schedule]] leaves none


def test_one_repos_schedule_never_shares_an_id_with_anothers():
    # `-` is allowed in both names: repo `a` + schedule `b-c` and repo `a-b` + schedule `c` are two schedules.
    assert schedule_id("a", "b-c") != schedule_id("a-b", "c")
    assert fire_id("a", "b-c") != fire_id("a-b", "c")
    # what lists one repo's schedules (`<prefix><repo>/`) does not take the other's
    assert not schedule_id("a-b", "c").startswith(schedule_id("a", ""))
    assert schedule_id("a", "b-c").startswith(schedule_id("a", ""))
