"""Records a campaign's and a best-of-N group's workflow histories for the replay test:
`python tests/histories/record_fleet.py [VERSION]` (as record.py does for tasks; keep the older files).

A campaign of three calc repos in two waves (the first of one, then the rest), run to its end; and best of
two on one repo, the first attempt picked. Both workflows' histories, as Temporal kept them, are saved as
`campaign_two_waves[-VERSION].json` and `attempts_best_of_two_picked[-VERSION].json`.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from honk.domain import TaskState  # noqa: E402
from honk.settings import Settings  # noqa: E402
from honk.testing.gitrepo import RemoteRepo  # noqa: E402
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until  # noqa: E402
from honk.workflow.attempts_workflow import workflow_id as attempts_workflow  # noqa: E402
from honk.workflow.campaign_policy import workflow_id as campaign_workflow  # noqa: E402
from honk.workflow.client import connect  # noqa: E402
from repos import DIRECT_FIX, calc_files  # noqa: E402

HERE = Path(__file__).parent


def main() -> None:
    version = f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        temporal = TemporalDevServer(root / "temporal")
        stack = HonkStack(root / "honk", temporal.address)
        try:
            for name in ("calc-a", "calc-b", "calc-c"):
                stack.add_repo(name, RemoteRepo(root / name, calc_files(DIRECT_FIX)).url)
            started = stack.honk(
                "campaign",
                "start",
                "--prompt",
                "make add() add",
                "--repos",
                "calc-*",
                "--wave",
                "1",
                "--go-percent",
                "100",
            )
            assert started.returncode == 0, started.stderr
            campaign = started.stdout.split()[0]  # its id, first
            asyncio.run(_save(temporal.address, campaign_workflow(campaign), f"campaign_two_waves{version}"))

            best = stack.honk("ask", "calc-a", "make add() add", "--attempts", "2", "--yes")
            assert best.returncode == 0, best.stderr
            group = re.search(r"\b(best-[0-9a-f]{12})\b", best.stdout)
            assert group, best.stdout

            def attempts() -> list[dict]:
                return stack.http.get(f"/api/attempts/{group.group(1)}").json()["attempts"]

            wait_until(lambda: all(a["state"] == TaskState.ready.value for a in attempts()), 120, "both ready")
            first = min(attempts(), key=lambda a: a["attempt"])
            picked = stack.honk("attempts", "pick", group.group(1), first["task_id"])
            assert picked.returncode == 0, picked.stderr
            asyncio.run(
                _save(temporal.address, attempts_workflow(group.group(1)), f"attempts_best_of_two_picked{version}")
            )
        finally:
            stack.stop()
            temporal.stop()


async def _save(address: str, workflow_id: str, name: str) -> None:
    client = await connect(Settings(temporal_address=address))
    handle = client.get_workflow_handle(workflow_id)
    await asyncio.wait_for(handle.result(), 300)  # the whole history, up to the workflow's end
    (HERE / f"{name}.json").write_text((await handle.fetch_history()).to_json())
    print("saved", name)


if __name__ == "__main__":
    main()
