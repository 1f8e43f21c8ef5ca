"""A Honk stack (`honk server` and `honk worker` processes, the real Temporal dev server, a policy naming ada
the repos' admin) and beside it, on the same data dir and task queue, the server `honk server` builds (its
composition root mounts the triggers router), on a real uvicorn in a thread. Its logs — every logger, at
DEBUG — go to a file, so a test can say a token never reached a log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from honk.composition.server import build_app
from honk.ports import free_port
from honk.settings import Settings
from honk.testing.processes import HonkStack, wait_until

POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]

[repos."*"]
admins = ["ada@example.com"]
"""


@dataclass
class Served:
    stack: HonkStack
    url: str  # the server with the triggers router
    log: Path  # everything this process logged while it ran
    ada: str  # API tokens: the repos' admin, and a requester the policy does not make an admin
    bo: str

    def honk(self, token: str, *args: str):  # noqa: ANN201 - subprocess.CompletedProcess
        return self.stack.honk("--url", self.url, "--token", token, *args)

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@contextmanager
def serving(root: Path, temporal_address: str) -> Iterator[Served]:
    stack = HonkStack(root, temporal_address, anonymous="false", policy=POLICY)
    log = root / "logs" / "triggers-server.log"
    handler = logging.FileHandler(log)
    # The test's own HTTP client logs the URLs it calls: it is the trigger's caller, not Honk.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        _, ada = stack.add_user("ada@example.com", "admin")
        _, bo = stack.add_user("bo@example.com", "requester")
        settings = Settings().changed(
            data_dir=root / "data",
            host="127.0.0.1",
            port=free_port(),
            temporal_address=temporal_address,
            task_queue=stack.env["HONK_TASK_QUEUE"],
            anonymous=False,
            policy_file=root / "policy.toml",
        )
        app = build_app(settings)
        server = uvicorn.Server(
            # As `honk server` runs it: no access log (a trigger's URL holds its token), Honk's loggers at DEBUG.
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=settings.server.port,
                log_level="debug",
                log_config=None,
                access_log=False,
            )
        )
        thread = threading.Thread(target=server.run, name="triggers-server", daemon=True)
        thread.start()
        try:
            wait_until(lambda: server.started or not thread.is_alive(), 60, "the triggers server to start")
            assert server.started, f"the triggers server did not start (see {log})"
            yield Served(stack, settings.base_url, log, ada, bo)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous)
        handler.close()
        stack.stop()
