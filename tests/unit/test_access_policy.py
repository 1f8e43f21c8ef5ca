"""The access policy: each rule refuses and allows where it should, and a broken file says where."""

from __future__ import annotations

from pathlib import Path

import pytest

from honk.access import InvalidPolicy, Policy, Refused, Usage, Who
from honk.domain import Budget
from honk.errors import Forbidden

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policy.example.toml"

ADA = Who(identity="ada@example.com", email="ada@example.com")
ADA_SLACK = Who(identity="slack:U0ADA", slack_id="U0ADA")
BOB = Who(identity="bob@example.com", email="bob@example.com")
CAROL = Who(identity="slack:U0CAROL", slack_id="U0CAROL")
STRANGER = Who(identity="eve@example.com", email="eve@example.com")
IDLE = Usage()

POLICY = """
[limits]
max_concurrent = 2
tasks_per_day = 5
usd_per_day = 10.0

[budget]
max_turns = 40
max_cost_usd = 4.0
timeout_s = 1200

[users."Ada@Example.com"]
slack = "U0ADA"
groups = ["leads"]
tasks_per_day = 50

[users."bob@example.com"]

[groups]
leads = ["slack:U0CAROL"]
web = ["bob@example.com"]

[repos."*"]
mergers = ["group:leads"]

[repos."*".budget]
max_turns = 30

[repos.playlist]
requesters = ["group:web", "group:leads"]
two_person = true
agents = ["claude"]
models = ["claude-sonnet-4-5"]

[repos.playlist.budget]
max_cost_usd = 2.0

[repos.internal]
requesters = ["group:leads"]
mergers = ["ada@example.com"]
admins = ["group:leads"]
"""


@pytest.fixture
def policy() -> Policy:
    return Policy.parse(POLICY)


def refusal(rule: str) -> pytest.RaisesExc[Refused]:
    return pytest.raises(Refused, match=rf"^Refused by policy rule {rule}: ")


# -- people ---------------------------------------------------------------------------------


def test_an_unknown_person_is_refused_everything(policy: Policy) -> None:
    with refusal("users") as e:
        policy.check_request(STRANGER, "docs", None, None, IDLE)
    assert e.value.rule == "users" and "eve@example.com is not listed" in e.value.message
    assert isinstance(e.value, Forbidden) and e.value.status_code == 403
    for check in (policy.check_follow_up, policy.check_merge, policy.check_cancel):
        with refusal("users"):
            check(STRANGER, "docs", "eve@example.com")  # even on their own task


def test_allow_unknown_lets_strangers_in_as_anyone() -> None:
    policy = Policy.parse('allow_unknown = true\n[repos.docs]\nmergers = ["*"]\n[repos.ops]\nmergers = ["a@x.io"]')
    policy.check_request(STRANGER, "docs", None, None, IDLE)
    policy.check_merge(STRANGER, "docs", "someone")
    with refusal("repos.ops.mergers"):
        policy.check_merge(STRANGER, "ops", "someone")


def test_people_are_matched_by_email_any_case_slack_id_or_group_membership(policy: Policy) -> None:
    policy.check_merge(Who(identity="ADA@example.com", email="ADA@example.com"), "internal", "bob@example.com")
    policy.check_merge(ADA_SLACK, "internal", "bob@example.com")  # her [users] entry names her Slack id
    policy.check_request(CAROL, "internal", None, None, IDLE)  # a member of leads through [groups] only
    policy.check_request(BOB, "docs", None, None, IDLE)  # listed: "*" requests anywhere by default


# -- requesting, following up, merging, cancelling -------------------------------------------


def test_only_listed_requesters_may_request(policy: Policy) -> None:
    policy.check_request(BOB, "playlist", "claude", None, IDLE)
    with refusal("repos.internal.requesters") as e:
        policy.check_request(BOB, "internal", None, None, IDLE)
    assert e.value.message.endswith("bob@example.com may not request tasks in internal; ask one of: group:leads.")


def test_follow_up_is_for_the_requester_and_whoever_may_request(policy: Policy) -> None:
    policy.check_follow_up(BOB, "internal", "bob@example.com")  # his own task
    policy.check_follow_up(CAROL, "internal", "bob@example.com")  # a lead may request there
    with refusal("repos.internal.requesters") as e:
        policy.check_follow_up(BOB, "internal", "ada@example.com")
    assert "ask one of: ada@example.com, group:leads." in e.value.message


def test_only_listed_mergers_may_merge(policy: Policy) -> None:
    with refusal("repos.internal.mergers") as e:
        policy.check_merge(CAROL, "internal", "bob@example.com")
    assert e.value.message == (
        "Refused by policy rule repos.internal.mergers: slack:U0CAROL may not merge "
        "in internal; ask one of: ada@example.com."
    )
    with refusal(r'repos\."\*"\.mergers'):  # a repo without its own table uses [repos."*"]
        policy.check_merge(BOB, "docs", "ada@example.com")
    with refusal(r'repos\."\*"\.mergers'):  # playlist sets no mergers: "*"'s apply
        policy.check_merge(BOB, "playlist", "ada@example.com")
    policy.check_merge(CAROL, "docs", "bob@example.com")


def test_two_person_rule_refuses_merging_your_own_task_from_any_front_door(policy: Policy) -> None:
    with refusal("repos.playlist.two_person") as e:
        policy.check_merge(ADA, "playlist", "ada@example.com")
    assert "needs a second person" in e.value.message and "ask one of: group:leads." in e.value.message
    with refusal("repos.playlist.two_person"):  # asked in Slack, approving on the web: still her
        policy.check_merge(ADA, "playlist", "slack:U0ADA")
    policy.check_merge(CAROL, "playlist", "ada@example.com")  # a different merger may
    policy.check_merge(ADA, "docs", "ada@example.com")  # no two-person rule there


def test_cancel_is_for_the_requester_and_whoever_may_merge(policy: Policy) -> None:
    policy.check_cancel(BOB, "docs", "bob@example.com")
    policy.check_cancel(CAROL, "docs", "bob@example.com")
    with refusal(r'repos\."\*"\.mergers') as e:
        policy.check_cancel(BOB, "docs", "ada@example.com")
    assert "may not cancel ada@example.com's task in docs; ask one of: ada@example.com, group:leads." in e.value.message


# -- agents and models ----------------------------------------------------------------------


def test_agents_and_models_outside_the_repos_lists_are_refused(policy: Policy) -> None:
    policy.check_request(BOB, "playlist", "claude", "claude-sonnet-4-5", IDLE)
    policy.check_request(BOB, "playlist", None, None, IDLE)  # the repo's config chooses; checked then
    with refusal("repos.playlist.agents") as e:
        policy.check_request(BOB, "playlist", "aider", None, IDLE)
    assert "agent 'aider' is not allowed in playlist; allowed: claude." in e.value.message
    with refusal("repos.playlist.models"):
        policy.check_request(BOB, "playlist", "claude", "claude-opus-4", IDLE)
    with refusal("repos.playlist.agents"):
        policy.check_agent("playlist", "scripted", None)
    policy.check_agent("playlist", "claude", "claude-sonnet-4-5")
    policy.check_agent("docs", "anything", "any-model")  # unset: any


# -- limits ---------------------------------------------------------------------------------


def test_concurrent_task_limit(policy: Policy) -> None:
    policy.check_request(BOB, "docs", None, None, Usage(active_tasks=1))
    with refusal("limits.max_concurrent") as e:
        policy.check_request(BOB, "docs", None, None, Usage(active_tasks=2))
    assert "has 2 tasks going and may have at most 2 at a time" in e.value.message


def test_daily_task_limit_and_a_users_own_override(policy: Policy) -> None:
    policy.check_request(BOB, "docs", None, None, Usage(tasks_today=4))
    with refusal("limits.tasks_per_day") as e:
        policy.check_request(BOB, "docs", None, None, Usage(tasks_today=5))
    assert "requested 5 tasks today and may request at most 5 a day; it resets at 00:00 UTC." in e.value.message
    policy.check_request(ADA, "docs", None, None, Usage(tasks_today=49))
    with refusal(r'users\."Ada@Example\.com"\.tasks_per_day'):
        policy.check_request(ADA_SLACK, "docs", None, None, Usage(tasks_today=50))
    with refusal("limits.max_concurrent"):  # her entry overrides only tasks_per_day
        policy.check_request(ADA, "docs", None, None, Usage(active_tasks=2))


def test_daily_cost_limit(policy: Policy) -> None:
    policy.check_request(BOB, "docs", None, None, Usage(usd_today=9.99))
    with refusal("limits.usd_per_day") as e:
        policy.check_request(BOB, "docs", None, None, Usage(usd_today=10.5))
    assert "have cost $10.50 and may cost at most $10.00 a day; it resets at 00:00 UTC." in e.value.message


def test_a_zero_limit_stops_requests() -> None:
    policy = Policy.parse('[users."bob@example.com"]\nmax_concurrent = 0')
    with refusal(r'users\."bob@example\.com"\.max_concurrent'):
        policy.check_request(BOB, "docs", None, None, IDLE)


# -- budgets --------------------------------------------------------------------------------


def test_budget_takes_the_least_of_request_and_policy_per_field(policy: Policy) -> None:
    # playlist: its own cost cap, "*"'s turns, [budget]'s timeout.
    assert Budget().capped(policy.budget_cap("playlist")) == Budget(max_turns=30, max_cost_usd=2.0, timeout_s=1200)
    assert Budget(max_turns=100, max_cost_usd=1.0, timeout_s=9000).capped(policy.budget_cap("playlist")) == Budget(
        max_turns=30, max_cost_usd=1.0, timeout_s=1200
    )
    # Any other repo: "*"'s turns over [budget]'s, [budget]'s cost.
    assert Budget(max_cost_usd=10.0).capped(policy.budget_cap("docs")) == Budget(
        max_turns=30, max_cost_usd=4.0, timeout_s=1200
    )


def test_budget_without_a_policy_opinion_keeps_the_request() -> None:
    policy = Policy.parse('[users."bob@example.com"]')
    asked = Budget(max_turns=80, max_cost_usd=None, timeout_s=60)
    assert asked.capped(policy.budget_cap("docs")) == asked
    assert asked.capped(Policy.open().budget_cap("docs")) == asked


# -- no policy ------------------------------------------------------------------------------


def test_open_policy_allows_everything() -> None:
    policy = Policy.open()
    busy = Usage(active_tasks=1000, tasks_today=1000, usd_today=1e6)
    policy.check_request(STRANGER, "anything", "aider", "some-model", busy)
    policy.check_follow_up(STRANGER, "anything", "ada@example.com")
    policy.check_merge(STRANGER, "anything", "eve@example.com")
    policy.check_cancel(STRANGER, "anything", "ada@example.com")
    policy.check_agent("anything", "aider", None)


def test_open_policy_lets_anyone_manage_secrets() -> None:
    for action in ("secret_set", "secret_list", "secret_remove"):
        Policy.open().check_admin(STRANGER, "anything", action)


# -- repo secrets ---------------------------------------------------------------------------


def test_with_a_policy_file_nobody_manages_secrets_unless_named(policy: Policy) -> None:
    with refusal(r'repos\."\*"\.admins') as e:
        policy.check_admin(ADA, "playlist", "secret_set")
    assert e.value.detail == (
        "ada@example.com may not set the secrets of playlist; nobody may until the access policy names its admins."
    )
    with refusal(r'repos\."\*"\.admins'):
        Policy.parse('allow_unknown = true\n[repos."*"]\nmergers = ["*"]').check_admin(STRANGER, "docs", "secret_list")


def test_a_repos_admins_manage_its_secrets(policy: Policy) -> None:
    policy.check_admin(ADA, "internal", "secret_set")  # a lead, by her [users] entry's group
    policy.check_admin(CAROL, "internal", "secret_remove")  # a lead, by the group's members
    with refusal("repos.internal.admins") as e:
        policy.check_admin(BOB, "internal", "secret_list")
    assert e.value.detail == "bob@example.com may not list the secrets of internal; ask one of: group:leads."
    with refusal("users"):
        policy.check_admin(STRANGER, "internal", "secret_set")
    everywhere = Policy.parse('[users."bob@example.com"]\n[repos."*"]\nadmins = ["bob@example.com"]')
    everywhere.check_admin(BOB, "any-repo", "secret_set")


def test_a_repos_admins_allow_it_hosts_and_others_are_told_who_may(policy: Policy) -> None:
    for action in ("network_allow", "network_list", "network_remove"):
        policy.check_admin(ADA, "internal", action)
        Policy.open().check_admin(STRANGER, "anything", action)
    with refusal("repos.internal.admins") as e:
        policy.check_admin(BOB, "internal", "network_allow")
    assert e.value.detail == "bob@example.com may not allow hosts for internal; ask one of: group:leads."
    with refusal(r'repos\."\*"\.admins') as e:
        policy.check_admin(ADA, "playlist", "network_remove")
    assert e.value.detail == (
        "ada@example.com may not remove the hosts allowed for playlist; nobody may until the access policy names "
        "its admins."
    )


def test_refused_carries_its_rule_and_detail() -> None:
    refused = Refused("accounts.role", "ada is a requester; merge needs a merger.")
    assert refused.rule == "accounts.role" and refused.status_code == 403
    assert str(refused) == "Refused by policy rule accounts.role: ada is a requester; merge needs a merger."


# -- broken files ---------------------------------------------------------------------------


def test_a_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[limits]\nmax_concurrent = 3\n[repos.docs\nmergers = ["*"]\n')
    with pytest.raises(InvalidPolicy, match=rf"^Invalid policy file {path}, line 3, column \d+: ") as e:
        Policy.load(path)
    assert e.value.status_code == 422


def test_an_unknown_key_names_its_field_path() -> None:
    with pytest.raises(InvalidPolicy) as e:
        Policy.parse('[repos.docs]\nmergerz = ["*"]\n[users."a@x.io"]\nslak = "U1"', source="/etc/honk/policy.toml")
    assert e.value.message.startswith("Invalid policy file /etc/honk/policy.toml:\n")
    assert "- repos.docs.mergerz: unknown key" in e.value.message
    assert '- users."a@x.io".slak: unknown key' in e.value.message


def test_an_undefined_group_is_an_error_wherever_it_is_named() -> None:
    with pytest.raises(InvalidPolicy) as e:
        Policy.parse('[groups]\nleads = []\n[users."a@x.io"]\ngroups = ["lead"]\n[repos.docs]\nmergers = ["group:ops"]')
    assert "- users.\"a@x.io\".groups[0]: group 'lead' is not defined in [groups] (defined: leads)" in e.value.message
    assert "- repos.docs.mergers[0]: group 'ops' is not defined in [groups]" in e.value.message
    with pytest.raises(InvalidPolicy, match=r"repos\.docs\.admins\[0\]: group 'ops' is not defined"):
        Policy.parse('[repos.docs]\nadmins = ["group:ops"]')
    with pytest.raises(InvalidPolicy, match=r"groups\.leads\[0\]: 'group:ops': a group lists people"):
        Policy.parse('[groups]\nleads = ["group:ops"]\nops = []')


def test_negative_numbers_are_errors() -> None:
    with pytest.raises(InvalidPolicy, match=r"limits\.usd_per_day: Input should be greater than or equal to 0"):
        Policy.parse("[limits]\nusd_per_day = -1")
    with pytest.raises(InvalidPolicy, match=r'users\."a@x\.io"\.max_concurrent: Input should be greater'):
        Policy.parse('[users."a@x.io"]\nmax_concurrent = -2')
    with pytest.raises(InvalidPolicy, match=r'repos\."\*"\.budget\.max_turns: Input should be greater'):
        Policy.parse('[repos."*".budget]\nmax_turns = -5')


def test_an_unreadable_file_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match="Cannot read policy file"):
        Policy.load(tmp_path / "missing.toml")


def test_the_example_policy_loads_and_means_what_it_says() -> None:
    policy = Policy.load(EXAMPLE)
    grace = Who(identity="grace@example.com", email="grace@example.com")
    boss = Who(identity="slack:U0BOSS", slack_id="U0BOSS")
    policy.check_request(grace, "playlist", "claude", None, IDLE)
    policy.check_merge(ADA_SLACK, "playlist", "grace@example.com")
    with refusal("repos.playlist.two_person"):
        policy.check_merge(ADA_SLACK, "playlist", "ada@example.com")
    with refusal(r'repos\."\*"\.mergers'):
        policy.check_merge(grace, "api", "ada@example.com")
    policy.check_merge(boss, "api", "ada@example.com")
    policy.check_merge(grace, "docs", "ada@example.com")
    assert Budget().capped(policy.budget_cap("playlist")) == Budget(max_turns=60, max_cost_usd=2.0, timeout_s=1800)
    policy.check_admin(ADA_SLACK, "playlist", "secret_set")
    with refusal(r'repos\."\*"\.admins'):
        policy.check_admin(boss, "playlist", "secret_set")


def test_a_plan_is_approved_by_its_requester_or_a_merger(policy: Policy) -> None:
    policy.check_plan(BOB, "internal", "bob@example.com", "approve")  # his own task
    policy.check_plan(ADA_SLACK, "internal", "bob@example.com", "approve")  # she may merge there
    with refusal("repos.internal.mergers") as e:
        policy.check_plan(CAROL, "internal", "bob@example.com", "revise")  # may request there, not merge
    assert "may not ask for changes to bob@example.com's plan in internal" in e.value.message
    with refusal("users"):
        policy.check_plan(STRANGER, "internal", "eve@example.com", "approve")
