"""Campaigns: one request across many repos (issue 20). A campaign is one Temporal workflow
(`HonkCampaign`, id `campaign-<id>`, honk.workflow.campaign_workflow) that starts a task per repo through
TaskService (so every task passes the same gate, budget and merge policy as one asked alone), in waves:
the first `wave_size` repos, then the rest only if enough of those reached ready.

`Campaigns` is what the front doors call (CLI, web, API, Slack); `CampaignSteps` holds the campaign
workflow's activities (select the repos, start a member's task, read the members' progress, tell the
campaign's Slack message), which need the service and the store, so they live here, not in the workflow.

Status: interfaces pinned for issue 20's parts; bodies are filled in by the campaign-core work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from honk.domain import CampaignSettings, CampaignView, MemberActed, RepoSelector, SlackThread
from honk.gate import Actor

if TYPE_CHECKING:
    from honk.service import TaskService


class Campaigns:
    def __init__(self, service: TaskService) -> None:
        self.service = service

    async def start(
        self,
        actor: Actor,
        text: str,
        selector: RepoSelector,
        settings: CampaignSettings | None = None,
        agent: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        slack: SlackThread | None = None,
    ) -> tuple[CampaignView, bool]:
        """Starts a campaign (or, for a `request_id` already used by the same person, answers the one it
        started, created=False). The request is checked as a task's is (empty, too long, unknown agent);
        a selector naming a repo Honk does not know is a UserFacingError naming it. Repos the actor may not
        ask changes of are members with status "refused", not an error."""
        raise NotImplementedError

    async def get(self, campaign_id: str) -> CampaignView:
        """The campaign and each member's latest task (NotFound when there is none)."""
        raise NotImplementedError

    async def listed(self, limit: int = 50) -> list[CampaignView]:
        """The newest campaigns first, with their members."""
        raise NotImplementedError

    async def merge_green(self, campaign_id: str, actor: Actor) -> list[MemberActed]:
        """Merges every member that is ready with its checks passing, each through TaskService.merge (the
        same merge policy as a task merged alone); what was not merged says why."""
        raise NotImplementedError

    async def retry_failed(self, campaign_id: str, actor: Actor, instruction: str = "") -> list[MemberActed]:
        """Starts a new attempt for every failed member, its request with `instruction` added."""
        raise NotImplementedError

    async def cancel(self, campaign_id: str, actor: Actor) -> CampaignView:
        """Stops the campaign: no further member starts, running tasks are cancelled, and open pull requests
        are closed or left as drafts as the campaign's `on_cancel` says."""
        raise NotImplementedError
