"""What went wrong in a Claude Code run, worded for a person, and whether retrying can help."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError

from honk.errors import UserFacingError

RETRYABLE_TYPE = "ModelUnavailable"


class AgentStopped(UserFacingError):
    """A budget stopped the agent; its work so far is committed to the branch before this is reported."""

    def __init__(self, which: str, cost_usd: float | None = None) -> None:
        super().__init__(f"The agent was stopped: {which}.")
        self.which, self.cost_usd = which, cost_usd


def classify(result: Any, error_kind: str | None, text: str, base_url: str | None) -> Exception:
    """Maps the CLI's outcome to a UserFacingError (final) or a retryable ApplicationError."""
    subtype = getattr(result, "subtype", None)
    status = getattr(result, "api_error_status", None)
    cost = getattr(result, "total_cost_usd", None)
    if subtype == "error_max_turns":
        return AgentStopped(f"the turn budget ({getattr(result, 'num_turns', '?')} turns) was hit", cost)
    if subtype == "error_max_budget_usd":
        return AgentStopped(f"the cost budget was hit (${cost:.2f} spent)" if cost else "the cost budget was hit", cost)
    if error_kind == "authentication_failed" or status in (401, 403):
        return UserFacingError(
            "The model API rejected Honk's credentials (invalid API key). Set a valid "
            "ANTHROPIC_API_KEY for the worker and restart it."
        )
    if error_kind == "billing_error" or status == 402:
        return UserFacingError("The model API refused the request for billing reasons; check the account's credits.")
    if error_kind == "rate_limit" or status == 429:
        return _retry(
            "The model API is rate-limiting Honk (429); Honk retries with backoff. "
            "If it persists, lower the number of concurrent tasks."
        )
    if status is None and any(s in text.lower() for s in ("connect", "econnrefused", "fetch failed", "network")):
        where = base_url or "the Anthropic API"
        return _retry(f"Honk cannot reach the model API at {where}; check the network or ANTHROPIC_BASE_URL.")
    if status in (500, 502, 503, 529) or error_kind == "server_error":
        return _retry(
            f"The model API is overloaded or failing ({status or 'server error'}); Honk retries. "
            "If it persists, try again later."
        )
    if error_kind == "invalid_request":
        return UserFacingError(f"The model API refused the request as invalid: {text[-300:]}")
    return _retry(f"Claude Code failed: {text[-300:] or 'no detail'}")


def _retry(message: str) -> ApplicationError:
    return ApplicationError(message, type=RETRYABLE_TYPE, non_retryable=False)
