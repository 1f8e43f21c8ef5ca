"""The stored campaign, as a stack's API serves it (shared by the campaign scenarios)."""

from __future__ import annotations

from honk.domain import CampaignView
from honk.testing.processes import HonkStack


def campaign(stack: HonkStack, cid: str) -> CampaignView:
    r = stack.http.get(f"/api/campaigns/{cid}")
    assert r.status_code == 200, r.text
    return CampaignView.model_validate(r.json())
