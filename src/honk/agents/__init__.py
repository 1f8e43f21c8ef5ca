"""Coding agents behind one small Protocol (`honk.protocols.Agent`)."""

from __future__ import annotations

from honk.agents.command import CommandAgent
from honk.agents.scripted import ScriptedAgent
from honk.errors import UserFacingError
from honk.protocols import Agent

AGENTS: dict[str, type[Agent]] = {"scripted": ScriptedAgent, "command": CommandAgent}


def make_agent(name: str) -> Agent:
    try:
        return AGENTS[name]()
    except KeyError:
        raise UserFacingError(
            f"Unknown agent {name!r}; available: {', '.join(sorted(AGENTS))}."
        ) from None
