"""`python -m honk.testing.egress_worker FILE`: a real Honk worker whose egress proxy reaches the test's
fake registries by their real names. FILE (JSON, written by the test harness) holds the names'
loopback addresses and the test CA; the only way a resolver gets into a worker is this constructor
argument, never a setting, so a production worker cannot be pointed elsewhere."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from honk.composition.main import _logging
from honk.composition.worker import run_worker
from honk.egress.proxy import EgressProxy
from honk.settings import Settings


class MappedResolver:
    """Names to the loopback addresses the fakes listen on; every other name does not resolve."""

    def __init__(self, answers: dict[str, tuple[str, int]]) -> None:
        self.answers = answers

    def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        found = self.answers.get(f"{host}:{port}")
        if found is None:
            raise OSError(-2, "Name or service not known")
        return [found]


def proxy(file: Path) -> EgressProxy:
    spec = json.loads(file.read_text())
    answers = {name: (str(ip), int(port)) for name, (ip, port) in spec["mapping"].items()}
    reachable = [a for name, a in answers.items() if name not in spec.get("not_reachable", [])]
    return EgressProxy(resolver=MappedResolver(answers), upstream_trust=spec["ca_pem"].encode(), reachable=reachable)


def main() -> None:
    settings = Settings()
    _logging(settings)
    asyncio.run(run_worker(settings, egress=proxy(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
