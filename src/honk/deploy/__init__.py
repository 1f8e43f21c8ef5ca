"""Production after merge: the repo's deploy command on what was merged, and its health check, confined
in the deploy phase's sandbox."""

from honk.deploy.health import check_health, policy_refusal
from honk.deploy.runner import RepoDeployer, contract

__all__ = ["RepoDeployer", "check_health", "contract", "policy_refusal"]
