"""One suite for every `AppDeliverer` (honk.protocols): Honk's served installs and the team's own upload
command. Each, given a build: delivers it as data — "delivered" with a link a phone opens, of the spec's
kind — and, given a build that left nothing to deliver, says so as data (never an exception), with why;
`wait` answers the same way."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from honk.deliver.command import CommandDelivery
from honk.deliver.links import ArtifactLinks
from honk.deliver.served import ServedApps
from honk.deliver.shelf import DeliveryShelf
from honk.domain import DeliverJob, RepoConfig, RepoRef, Workspace
from honk.protocols import AppDeliverer
from honk.sandbox import Sandbox, SandboxConfig
from honk.testing.android import AppSpec, build_apk

TASK = "t-conform"


@dataclass
class Case:
    name: str
    deliverer: AppDeliverer
    deliver: dict
    artifact: str


def cases(tmp_path: Path) -> list[Case]:
    box = Sandbox(SandboxConfig(hidden=(tmp_path / "data",)))
    links = ArtifactLinks(b"k" * 32, "https://honk.example.com")
    served = ServedApps(box, tmp_path / "areas", DeliveryShelf(tmp_path / "artifacts"), links, 600)
    command = CommandDelivery(box, tmp_path / "areas", tmp_path / "logs")
    said = 'test -s "$HONK_ARTIFACT" && echo "url=https://apps.example.com/$HONK_TASK" >> "$HONK_OUTPUT"'
    return [
        Case("served", served, {"kind": "android-apk"}, "app.apk"),
        Case("command", command, {"kind": "command", "run": said, "wait": said, "artifact": "*.apk"}, "app.apk"),
    ]


def job(tmp_path: Path, case: Case) -> DeliverJob:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return DeliverJob(
        task_id=TASK,
        repo=RepoRef(name="app", url=str(tmp_path / "remote")),
        config=RepoConfig.model_validate({"deliver": case.deliver}),
        workspace=Workspace(path=ws, branch=f"honk/{TASK}", mirror=ws),
        artifacts_dir=str(tmp_path / "artifacts" / TASK),
        request="make the button blue",
    )


@pytest.mark.parametrize("which", ["served", "command"])
async def test_a_build_is_delivered_with_a_link_of_its_kind(tmp_path, keystore, which):
    case = next(c for c in cases(tmp_path) if c.name == which)
    (tmp_path / "artifacts" / TASK).mkdir(parents=True)
    shutil.copyfile(build_apk(tmp_path, AppSpec(), keystore), tmp_path / "artifacts" / TASK / case.artifact)
    for outcome in (await case.deliverer.deliver(job(tmp_path, case)), await case.deliverer.wait(job(tmp_path, case))):
        assert outcome.state == "delivered", outcome.why
        assert outcome.kind == case.deliver["kind"]
        assert outcome.url is not None and outcome.url.startswith("https://")


@pytest.mark.parametrize("which", ["served", "command"])
async def test_nothing_to_deliver_is_said_as_data(tmp_path, which):
    case = next(c for c in cases(tmp_path) if c.name == which)
    (tmp_path / "artifacts" / TASK).mkdir(parents=True)
    (tmp_path / "artifacts" / TASK / "notes.txt").write_text("not an app")
    outcome = await case.deliverer.deliver(job(tmp_path, case))
    assert outcome.state == "failed" and outcome.url is None
    assert outcome.why and outcome.kind == case.deliver["kind"]
