"""A campaign's members are asked, merged and cancelled as the Actor who asked the campaign: the same identity,
email, Slack id and account role (honk.campaigns.requester), kept with the campaign in the store so a campaign
started again for a retry or a cancel is still them. The role matters: an account that may only ask does not
get its campaign's members merged (automerge, or merge all green as the requester)."""

from __future__ import annotations

import pytest

from honk.access import Policy, Refused, Who
from honk.accounts import Role
from honk.campaigns import ROLE_NAMES, asked_as, requester
from honk.domain import AskedAs, CampaignRequest, RepoSelector
from honk.gate import Actor, Gate
from honk.store import AuditLog, Store
from honk.store.campaigns import CampaignStore

ANA = "ana@example.com"


def campaign_of(actor: Actor, cid: str = "c-1") -> CampaignRequest:
    """The request as Campaigns.start makes it from the actor who asked."""
    return CampaignRequest(
        campaign_id=cid,
        request_id=f"r-{cid}",
        text="bump requests",
        selector=RepoSelector(glob="svc-*"),
        requested_by=actor.identity,
        front_door=actor.front_door,
        asked_as=asked_as(actor),
    )


@pytest.fixture
async def store(tmp_path):
    s = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await s.create_schema()
    yield s
    await s.close()


@pytest.mark.parametrize(
    "actor",
    [
        Actor(who=Who(identity=ANA, email=ANA), front_door="web", role=Role.requester),
        Actor(who=Who(identity=ANA, email=ANA), front_door="api", role=Role.admin),
        Actor(who=Who(identity=ANA, email=ANA, slack_id="U1"), front_door="slack"),  # no accounts in Slack
        Actor(who=Who(identity="slack:U2", slack_id="U2"), front_door="slack"),
    ],
    ids=["web-requester", "api-admin", "slack", "slack-id-only"],
)
def test_members_act_as_the_very_actor_who_asked(actor: Actor):
    assert requester(campaign_of(actor)) == actor


def test_every_account_role_has_its_name_in_the_domain():
    assert {r.value for r in ROLE_NAMES} == {r.value for r in Role}
    assert all(name == role.value for role, name in ROLE_NAMES.items())


async def test_a_requesters_campaign_members_are_not_merged_as_them_a_mergers_are(store: Store):
    gate = Gate(Policy.open(), store, AuditLog(store))
    asking = campaign_of(Actor(who=Who(identity=ANA, email=ANA), front_door="web", role=Role.requester))
    with pytest.raises(Refused) as refused:
        await gate.check("merge", requester(asking), "svc-a", requested_by=ANA, task_id="t-1")
    assert refused.value.rule == "accounts.role"
    assert refused.value.detail == f"{ANA} is a requester; merge needs a merger."
    # They may still ask each repo and cancel their own members: what a requester may do alone.
    await gate.check("request", requester(asking), "svc-a")
    await gate.check("cancel", requester(asking), "svc-a", requested_by=ANA)

    merging = campaign_of(Actor(who=Who(identity=ANA, email=ANA), front_door="web", role=Role.merger), "c-2")
    await gate.check("merge", requester(merging), "svc-a", requested_by=ANA, task_id="t-2")


async def test_the_store_keeps_who_asked_for_a_campaign_started_again(store: Store):
    campaigns = CampaignStore(store)
    req = campaign_of(Actor(who=Who(identity=ANA, email=ANA, slack_id="U1"), front_door="web", role=Role.requester))
    await campaigns.create(req)
    again = await campaigns.request(req.campaign_id)
    assert again is not None and again.asked_as == AskedAs(email=ANA, slack_id="U1", role="requester")
    assert requester(again) == requester(req)
