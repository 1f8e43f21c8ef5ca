"""Who may deploy (and revert a deploy), and freeze windows: the access policy's rules, pure decisions at
an instant the test names. Hypothesis checks the windows' arithmetic against properties that do not
share its formula — a window and its complement always disagree, the start is in and the end is out,
and a window in force ends exactly where the wall clock leaves it, daylight-saving jumps included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honk.access import InvalidPolicy, Policy, Refused, Who
from honk.access.freeze import DAYS, Freeze

ADA = Who(identity="ada@example.com", email="ada@example.com")
BO = Who(identity="slack:U0BO", slack_id="U0BO")
CY = Who(identity="cy@example.com", email="cy@example.com")
EVE = Who(identity="eve@example.com", email="eve@example.com")

POLICY = """
[users."ada@example.com"]
groups = ["ops"]
[users."bo@example.com"]
slack = "U0BO"
[users."cy@example.com"]
[users."eve@example.com"]

[groups]
ops = []
oncall = ["bo@example.com"]

[repos."*"]
mergers = ["cy@example.com", "group:ops"]

[repos.shop]
deployers = ["group:ops", "group:oncall"]

[[freeze]]
repos = ["shop", "web"]
from = "Fri 16:00"
to = "Mon 08:00"
tz = "Europe/Stockholm"
reason = "the weekend"
allow = ["group:oncall"]

[[freeze]]
repos = ["*"]
from = "2026-12-23 00:00"
to = "2027-01-02 08:00"
tz = "America/New_York"
"""
WEDNESDAY = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
HOLIDAYS = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)  # a Thursday


@pytest.fixture
def policy() -> Policy:
    return Policy.parse(POLICY)


def refusal(call: Callable[..., None], *args: object, **kwargs: object) -> Refused:
    with pytest.raises(Refused) as e:
        call(*args, **kwargs)
    return e.value


def test_a_repos_deployers_may_deploy_and_revert_and_others_are_told_who_may(policy: Policy) -> None:
    policy.check_deploy(ADA, "shop", WEDNESDAY)
    policy.check_deploy(BO, "shop", WEDNESDAY, revert=True)
    refused = refusal(policy.check_deploy, CY, "shop", WEDNESDAY)
    assert refused.rule == "repos.shop.deployers"
    assert refused.detail == "cy@example.com may not deploy shop; ask one of: group:ops, group:oncall."
    reverting = refusal(policy.check_deploy, EVE, "shop", WEDNESDAY, revert=True)
    assert reverting.detail.startswith("eve@example.com may not revert deploys of shop;")


def test_without_deployers_whoever_may_merge_may_deploy(policy: Policy) -> None:
    policy.check_deploy(CY, "docs", WEDNESDAY)
    refused = refusal(policy.check_deploy, EVE, "docs", WEDNESDAY)
    assert refused.rule == 'repos."*".mergers'
    assert "ask one of: cy@example.com, group:ops" in refused.detail


def test_someone_the_policy_does_not_know_is_refused() -> None:
    refused = refusal(Policy.parse('[repos."*"]\nmergers = ["*"]\n').check_deploy, ADA, "shop", WEDNESDAY)
    assert refused.rule == "users"


def test_the_open_policy_lets_anyone_deploy_at_any_time() -> None:
    Policy.open().check_deploy(EVE, "shop", SATURDAY)
    assert Policy.open().frozen("shop", SATURDAY) is None


def test_a_weekly_freeze_holds_deploys_says_until_when_and_lets_its_allowed_people_through(policy: Policy) -> None:
    refused = refusal(policy.check_deploy, ADA, "shop", SATURDAY)
    assert refused.rule == "freeze[0]"
    assert refused.detail == (
        "deploys to shop are frozen (the weekend) until Mon 08:00 (Europe/Stockholm), 2026-03-30 06:00 UTC; "
        "deploy after it, or ask one of: group:oncall to deploy now."
    ), "summer time began on the Sunday: 08:00 in Stockholm is 06:00 UTC"
    policy.check_deploy(BO, "shop", SATURDAY)  # on call
    policy.check_deploy(ADA, "shop", SATURDAY, revert=True)  # a revert puts back what was live: never held
    policy.check_deploy(ADA, "shop", WEDNESDAY)
    policy.check_deploy(CY, "docs", SATURDAY)  # a repo the freeze does not name
    found = policy.frozen("web", SATURDAY)
    assert found is not None and found[0] == "freeze[0]"
    assert found[1].ends(SATURDAY) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_a_dated_freeze_covers_every_repo_in_its_own_time_zone(policy: Policy) -> None:
    refused = refusal(policy.check_deploy, ADA, "docs", HOLIDAYS)
    assert refused.rule == "freeze[1]"
    assert refused.detail.endswith("until 2027-01-02 08:00 (America/New_York), 2027-01-02 13:00 UTC; deploy after it.")
    just_before = datetime(2026, 12, 23, 4, 59, tzinfo=UTC)  # 23:59 on the 22nd in New York
    policy.check_deploy(CY, "docs", just_before)
    refusal(policy.check_deploy, CY, "docs", just_before + timedelta(minutes=1))


def test_a_freeze_needs_an_aware_instant(policy: Policy) -> None:
    with pytest.raises(ValueError, match="aware instant"):
        policy.check_deploy(ADA, "shop", datetime(2026, 3, 28, 12, 0))


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('repos = ["shop"]\nfrom = "Fri 4pm"\nto = "Mon 08:00"', 'freeze[0].from: must be "Fri 16:00" (every week)'),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nto = "Mon 24:00"', "freeze[0].to: must be"),
        ('repos = ["shop"]\nfrom = "Fry 16:00"\nto = "Mon 08:00"', "freeze[0].from: must be"),
        ('repos = ["shop"]\nfrom = "2026-02-30 00:00"\nto = "2026-03-02 00:00"', "freeze[0].from: must be"),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nto = "2026-12-24 00:00"', "both be weekly"),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nto = "friday 16:00"', "the same moment"),
        ('repos = ["shop"]\nfrom = "2026-12-24 00:00"\nto = "2026-12-23 00:00"', "to must come after from"),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nto = "Mon 08:00"\ntz = "Mars/Olympus"', "is not a time zone"),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nto = "Mon 08:00"\ntz = "../../etc/passwd"', "is not a time zone"),
        ('repos = []\nfrom = "Fri 16:00"\nto = "Mon 08:00"', "freeze[0].repos:"),
        ('repos = ["shop"]\nto = "Mon 08:00"', "freeze[0].from: Field required"),
        ('repos = ["shop"]\nfrom = "Fri 16:00"\nuntil = "Mon 08:00"', "freeze[0].until: unknown key"),
        (
            'repos = ["shop"]\nfrom = "Fri 16:00"\nto = "Mon 08:00"\nallow = ["group:sre"]',
            "freeze[0].allow[0]: group 'sre'",
        ),
    ],
)
def test_a_broken_freeze_names_its_field(table: str, says: str) -> None:
    with pytest.raises(InvalidPolicy) as e:
        Policy.parse(f"[[freeze]]\n{table}\n", "policy.toml")
    assert says in str(e.value), str(e.value)


def test_an_undefined_group_among_deployers_is_an_error() -> None:
    with pytest.raises(InvalidPolicy, match=r"repos.shop.deployers\[0\]: group 'ops' is not defined"):
        Policy.parse('[repos.shop]\ndeployers = ["group:ops"]\n')


def test_full_day_names_and_any_case_are_read() -> None:
    freeze = Freeze.model_validate({"repos": ["*"], "from": "friday 16:00", "to": "MON 8:00"})
    assert freeze.in_force(SATURDAY) and not freeze.in_force(WEDNESDAY)


# -- properties ---------------------------------------------------------------------------------------
FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None)
ZONES = ["UTC", "Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago"]
weekly_times = st.builds(
    lambda d, h, m: f"{DAYS[d].title()} {h:02d}:{m:02d}",
    st.integers(0, 6),
    st.integers(0, 23),
    st.sampled_from([0, 1, 15, 30, 45, 59]),
)
# Instants through 2026, so that every zone's daylight-saving changes are among them.
instants = st.integers(0, 366 * 24 * 3600).map(lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s))


def _window(start: str, end: str, tz: str) -> Freeze:
    return Freeze.model_validate({"repos": ["*"], "from": start, "to": end, "tz": tz})


@FAST
@given(start=weekly_times, end=weekly_times, tz=st.sampled_from(ZONES), now=instants)
def test_a_weekly_window_and_its_complement_never_agree(start: str, end: str, tz: str, now: datetime) -> None:
    if start.lower() == end.lower():
        return
    assert _window(start, end, tz).in_force(now) != _window(end, start, tz).in_force(now)


@FAST
@given(start=weekly_times, end=weekly_times, now=instants)
def test_in_utc_the_start_is_in_the_end_is_out_and_every_week_is_the_same(start: str, end: str, now: datetime) -> None:
    if start.lower() == end.lower():
        return
    window = _window(start, end, "UTC")
    assert window.in_force(now) == window.in_force(now + timedelta(weeks=1))
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    start_at = monday + timedelta(days=DAYS.index(start[:3].lower()), hours=int(start[4:6]), minutes=int(start[7:9]))
    end_at = monday + timedelta(days=DAYS.index(end[:3].lower()), hours=int(end[4:6]), minutes=int(end[7:9]))
    assert window.in_force(start_at) and not window.in_force(end_at)
    assert window.in_force(end_at - timedelta(seconds=1)) and not window.in_force(start_at - timedelta(seconds=1))


@FAST
@given(start=weekly_times, end=weekly_times, tz=st.sampled_from(ZONES), now=instants, probes=st.lists(st.floats(0, 1)))
def test_a_window_in_force_ends_where_the_wall_clock_first_leaves_it(
    start: str, end: str, tz: str, now: datetime, probes: list[float]
) -> None:
    window = _window(start, end, tz) if start.lower() != end.lower() else None
    if window is None or not window.in_force(now):
        return
    ends = window.ends(now)
    assert now < ends <= now + timedelta(weeks=1, hours=2)
    assert not window.in_force(ends)
    assert window.in_force(ends - timedelta(seconds=1)) or ends - timedelta(seconds=1) <= now
    for share in probes:  # in force all the way there
        assert window.in_force(now + (ends - now) * share * 0.999)


def test_a_window_ending_in_the_hour_summer_time_skips_ends_at_the_jump() -> None:
    """Stockholm's clocks went from 02:00 to 03:00 on 2026-03-29: a freeze to 02:30 ended at 02:00."""
    window = _window("Sat 12:00", "Sun 02:30", "Europe/Stockholm")
    saturday = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    assert window.ends(saturday) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_window_starting_in_the_hour_winter_time_repeats_is_left_when_the_clock_goes_back() -> None:
    """On 2026-10-25 Stockholm's clocks went from 03:00 back to 02:00: a freeze from 02:15 to 05:00 was
    in force at 02:20 (summer time), and left at the jump, when the clock read 02:00 again."""
    window = _window("Sun 02:15", "Sun 05:00", "Europe/Stockholm")
    first_pass = datetime(2026, 10, 25, 0, 20, tzinfo=UTC)  # 02:20 CEST
    assert window.in_force(first_pass)
    assert window.ends(first_pass) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)


def test_the_example_policy_holds_playlist_deploys_over_the_weekend_except_for_its_leads() -> None:
    policy = Policy.load(Path(__file__).resolve().parents[2] / "deploy" / "policy.example.toml")
    grace = Who(identity="grace@example.com", email="grace@example.com")
    boss = Who(identity="slack:U0BOSS", slack_id="U0BOSS")
    assert refusal(policy.check_deploy, grace, "playlist", WEDNESDAY).rule == "repos.playlist.deployers"
    policy.check_deploy(boss, "playlist", WEDNESDAY)
    policy.check_deploy(boss, "playlist", SATURDAY)  # a lead: allowed through the freeze
    policy.check_deploy(grace, "docs", SATURDAY)  # docs: mergers ["*"], no freeze
    assert policy.frozen("playlist", SATURDAY) is not None and policy.frozen("docs", SATURDAY) is None
