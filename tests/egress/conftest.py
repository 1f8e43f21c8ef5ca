"""The egress tests' far side: the fake registries (honk.testing.registries), serving the registry names
and a few more by SNI and Host, and a proxy that reaches them by those names through the test's resolver
— one name answering a loopback address nobody exempted, as a rebinding answer would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from honk.egress.proxy import EgressProxy
from honk.testing.egress_worker import MappedResolver
from honk.testing.registries import FakeRegistries

MORE_NAMES = ("npm.example.com", "rebind.example.com", "other.example.com")
REBOUND = "rebind.example.com"


@pytest.fixture(scope="module")
def registries() -> Iterator[FakeRegistries]:
    with FakeRegistries(hosts=MORE_NAMES) as fake:
        yield fake


@pytest.fixture(scope="module")
def proxy(registries: FakeRegistries) -> Iterator[EgressProxy]:
    answers = registries.mapping()
    rebound = {**answers, f"{REBOUND}:443": ("127.0.0.2", answers[f"{REBOUND}:443"][1])}
    p = EgressProxy(
        resolver=MappedResolver(rebound), upstream_trust=registries.ca_pem, reachable=list(answers.values())
    ).start()
    yield p
    p.stop()
