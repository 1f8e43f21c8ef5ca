"""Honk's own delivery of what a build made (`ServedApps`): the artifact `[deliver]` names found among the
build's, read and checked under a real bubblewrap launcher, kept for its install page, and a signed,
expiring link to it — or, for each kind of bad artifact, a refusal that says what to fix."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_ios import make_ipa

from honk.deliver.links import ArtifactLinks
from honk.deliver.served import ServedApps, artifact_named
from honk.deliver.shelf import DeliveryShelf
from honk.domain import ArtifactGrant, DeliverJob, DeliveryRefused, RepoConfig, RepoRef, Workspace
from honk.sandbox import Sandbox, SandboxConfig
from honk.testing.android import AppSpec, Keystore, build_apk

KEY = b"k" * 32
TASK = "t-served"


def job(tmp_path: Path, deliver: dict, artifacts: Path) -> DeliverJob:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return DeliverJob(
        task_id=TASK,
        repo=RepoRef(name="app", url=str(tmp_path / "remote")),
        config=RepoConfig.model_validate({"deliver": deliver}),
        workspace=Workspace(path=ws, branch="honk/t-served", mirror=tmp_path),
        artifacts_dir=str(artifacts),
        request="make the button blue",
    )


def served(
    tmp_path: Path, public_url: str = "http://127.0.0.1:8780", mode: str = "bwrap"
) -> tuple[ServedApps, ArtifactLinks]:
    links = ArtifactLinks(KEY, public_url)
    box = Sandbox(SandboxConfig(hidden=(tmp_path / "data",), mode=mode))  # type: ignore[arg-type]
    return ServedApps(box, tmp_path / "areas", DeliveryShelf(tmp_path / "artifacts"), links, 3600), links


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    where = tmp_path / "artifacts" / TASK
    where.mkdir(parents=True)
    return where


@pytest.mark.parametrize("mode", ["bwrap", "off"])
async def test_a_signed_apk_is_delivered_with_a_link_that_opens_that_build(
    tmp_path, artifacts, keystore: Keystore, mode: str
):
    apk = build_apk(tmp_path, AppSpec(label="Shop", version_name="2.0", version_code=7), keystore)
    shutil.copyfile(apk, artifacts / "shop.apk")
    (artifacts / "site.zip").write_bytes(b"PK")
    apps, links = served(tmp_path, mode=mode)
    outcome = await apps.deliver(job(tmp_path, {"kind": "android-apk"}, artifacts))
    assert outcome.state == "delivered", outcome.why
    assert (outcome.title, outcome.version, outcome.build, outcome.label) == ("Shop", "2.0", "7", "Install")
    assert outcome.signature is not None and outcome.signature.verified
    assert outcome.expires_at is not None and outcome.expires_at > datetime.now(UTC)
    assert outcome.url is not None and outcome.url.startswith("http://127.0.0.1:8780/install/")
    grant = links.check(outcome.url.rsplit("/", 1)[1], name="shop.apk")
    assert isinstance(grant, ArtifactGrant) and grant.task_id == TASK
    kept = DeliveryShelf(tmp_path / "artifacts").get(TASK, "shop.apk")
    assert kept is not None and kept.bundle_id == "dev.honk.sample"


async def test_an_unsigned_apk_is_refused_and_says_why(tmp_path, artifacts, android_tools):
    shutil.copyfile(build_apk(tmp_path, AppSpec(), keystore=None), artifacts / "app.apk")
    apps, _ = served(tmp_path)
    outcome = await apps.deliver(job(tmp_path, {"kind": "android-apk"}, artifacts))
    assert outcome.state == "failed" and outcome.url is None
    assert "not signed" in outcome.why and "app.apk" in outcome.why


async def test_a_missing_artifact_names_what_the_build_kept_and_the_fix(tmp_path, artifacts):
    (artifacts / "site.zip").write_bytes(b"PK")
    apps, _ = served(tmp_path)
    outcome = await apps.deliver(job(tmp_path, {"kind": "android-apk", "artifact": "dist/app-*.apk"}, artifacts))
    assert outcome.state == "failed"
    assert "no artifact matching app-*.apk" in outcome.why and "site.zip" in outcome.why
    assert "[build] artifacts" in outcome.why


async def test_an_empty_apk_is_refused(tmp_path, artifacts):
    (artifacts / "app.apk").write_bytes(b"")
    apps, _ = served(tmp_path)
    outcome = await apps.deliver(job(tmp_path, {"kind": "android-apk"}, artifacts))
    assert outcome.state == "failed" and "empty" in outcome.why


async def test_an_ipa_is_refused_over_http_and_for_another_app_and_delivered_otherwise(tmp_path, artifacts):
    make_ipa(artifacts / "Calc.ipa")
    spec = {"kind": "ios-ota", "bundle_id": "dev.honk.calc"}
    over_http, _ = served(tmp_path)
    refused = await over_http.deliver(job(tmp_path, spec, artifacts))
    assert refused.state == "failed" and "HTTPS" in refused.why

    apps, links = served(tmp_path, "https://honk.example.com")
    other = await apps.deliver(job(tmp_path, {**spec, "bundle_id": "com.example.other"}, artifacts))
    assert other.state == "failed" and "com.example.other" in other.why

    outcome = await apps.deliver(job(tmp_path, spec, artifacts))
    assert outcome.state == "delivered", outcome.why
    assert outcome.url is not None and outcome.url.startswith("https://honk.example.com/install/")


async def test_an_ipa_without_info_plist_is_refused(tmp_path, artifacts):
    make_ipa(artifacts / "Calc.ipa", info=None)
    apps, _ = served(tmp_path, "https://honk.example.com")
    outcome = await apps.deliver(job(tmp_path, {"kind": "ios-ota", "bundle_id": "dev.honk.calc"}, artifacts))
    assert outcome.state == "failed" and "Info.plist" in outcome.why


def test_the_first_of_the_kinds_extension_is_taken_when_no_name_is_given(tmp_path):
    (tmp_path / "b.apk").write_bytes(b"x")
    (tmp_path / "a.apk").write_bytes(b"x")
    (tmp_path / ".hidden.apk").write_bytes(b"x")
    assert artifact_named(tmp_path, None, "android-apk") == tmp_path / "a.apk"
    assert isinstance(artifact_named(tmp_path, None, "ios-ota"), DeliveryRefused)
