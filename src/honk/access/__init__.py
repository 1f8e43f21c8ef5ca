"""The server's access policy: who may request and merge where, with which agents, within which limits."""

from honk.access.policy import Policy, Refused
from honk.access.rules import InvalidPolicy, Usage, Who

__all__ = ["InvalidPolicy", "Policy", "Refused", "Usage", "Who"]
