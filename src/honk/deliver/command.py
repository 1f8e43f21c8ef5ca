"""Runs a repo's own delivery command (`[deliver] run`, and `wait` while the service processes): the
team's tool (fastlane, firebase-tools, eas-cli, anything) uploads the green build, and Honk takes the
link it gives back from `$HONK_OUTPUT` or from its output (`honk.deliver.output`).

Confined like a deploy (`honk.deploy.runner`), but in the deliver phase, whose code the agent may have
written (the workspace holds its change, and the tools read their config from it): the phase's hosts
and methods come from `[network] deliver` / `[[network.allow]]`, and its secrets only as headers the
egress proxy adds for their hosts — the command never holds a token, so nothing it prints can leak one.
The command runs in the task's workspace (writable: eas exports its bundle to `dist/`, fastlane writes
`fastlane/report.xml`), with a HOME of its own (removed after: a tool that writes a session down leaves
it nowhere a later sandbox sees) that also holds `$HONK_OUTPUT`, and the chosen build artifact shown
read-only. A failure is an outcome with the distilled log, never an error.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from honk.deliver.output import MAX_OUTPUT_BYTES, HonkOutput, find_link, parse_output
from honk.domain import DeliverJob, DeliverSpec, DeliveryOutcome, DeliveryRefused, ProcResult
from honk.egress.policies import EgressPolicies
from honk.network import EgressPolicy
from honk.redaction import Redactor
from honk.sandbox import Sandbox
from honk.verify.distill import distill

OUTPUT_NAME = "honk-output"
MAX_NOTES = 4000  # $HONK_RELEASE_NOTES: what testers read, and what fits a command line's variable
NO_LINK = "printed no link: write url=… to $HONK_OUTPUT or set link_pattern"


def release_notes(job: DeliverJob) -> str:
    """What was asked (its first line) and what the agent did, for the testers' "what's new", bounded
    and without control characters (the tools pass it on to App Store Connect, Firebase, Expo)."""
    first = job.request.strip().splitlines()[0] if job.request.strip() else ""
    notes = first if not job.summary.strip() else f"{first}\n\n{job.summary.strip()}"
    kept = "".join(c for c in notes if c in "\n\t" or (c.isprintable() and c not in "\u2028\u2029"))
    return kept[:MAX_NOTES]


def pick_artifact(spec: DeliverSpec, artifacts: Path) -> Path | DeliveryRefused | None:
    """The build artifact the command gets: the first (by name) matching `[deliver] artifact` (as a glob
    on the file's name, or on the whole path the build kept it from), else the first the build kept;
    None when it kept none and none was asked for (an Expo update publishes from the source)."""
    try:
        kept = sorted(
            p for p in artifacts.iterdir() if not p.name.startswith(".") and p.is_file() and not p.is_symlink()
        )
    except OSError:
        kept = []
    if spec.artifact is None:
        chosen = kept[0] if kept else None
    else:
        wanted = (spec.artifact, PurePosixPath(spec.artifact).name)
        chosen = next((p for p in kept if any(fnmatch.fnmatchcase(p.name, w) for w in wanted)), None)
        if chosen is None:
            names = ", ".join(p.name for p in kept[:10]) or "nothing"
            return DeliveryRefused(
                why=f'no build artifact matches [deliver] artifact = "{spec.artifact}" (the build kept {names}; '
                "list it in [build] artifacts)"
            )
    if chosen is not None and chosen.stat().st_size == 0:
        return DeliveryRefused(why=f"the build's artifact {chosen.name} is empty")
    return chosen


def read_output(path: Path) -> bytes | DeliveryRefused:
    """`$HONK_OUTPUT` as the command left it, read by the worker outside the sandbox: so never through a
    link (the command could point it at a file of the worker's), never a FIFO or a device (a read would
    hang), and never more than the contract allows."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return b""
    except OSError:
        return DeliveryRefused(why="$HONK_OUTPUT is not a plain file (a link, or removed while read)")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return DeliveryRefused(why="$HONK_OUTPUT is not a plain file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(MAX_OUTPUT_BYTES + 1)
    finally:
        os.close(fd)


class CommandDelivery:
    """Delivery by the team's own tool: `upload` runs `[deliver] run` once, `wait` runs `[deliver] wait`
    once (the workflow asks again every `wait_every` seconds, on its own durable timer, until the outcome
    is "delivered" or "failed", or `wait_timeout` ends)."""

    def __init__(self, sandbox: Sandbox, areas: Path, logs: Path, egress: EgressPolicies | None = None) -> None:
        self.sandbox, self.areas, self.logs, self.egress = sandbox, areas, logs, egress

    async def deliver(self, job: DeliverJob) -> DeliveryOutcome:
        spec = job.spec
        if spec.served or spec.run is None:
            raise ValueError(f"[deliver] kind = {spec.kind!r} is served by Honk: there is no command to run")
        return await self._run(job, spec.run, "deliver")

    async def wait(self, job: DeliverJob) -> DeliveryOutcome:
        spec = job.spec
        if spec.wait is None:
            raise ValueError("[deliver] has no wait: a processing delivery has nothing to ask")
        return await self._run(job, spec.wait, "deliver-wait")

    async def _run(self, job: DeliverJob, command: str, name: str) -> DeliveryOutcome:
        spec = job.spec
        log = self.logs / job.task_id / f"{name}.log"
        artifact = pick_artifact(spec, Path(job.artifacts_dir))
        if isinstance(artifact, DeliveryRefused):
            return DeliveryOutcome(state="failed", kind=spec.kind, why=artifact.why)
        policy, variables = await self._grant(job)
        redact = Redactor(variables.values()).text
        area = self.areas / job.task_id
        home = area / f"{name}-home"
        shutil.rmtree(home, ignore_errors=True)  # a run the worker did not see end may have left one
        home.mkdir(parents=True)
        output = home / OUTPUT_NAME
        output.touch()
        env = {
            **variables,
            "HONK_OUTPUT": str(output),
            "HONK_TASK": job.task_id,
            "HONK_REPO": job.repo.name,
            "HONK_BRANCH": f"honk-{job.task_id}",  # a name `eas update --branch` takes (no slash)
            "HONK_RELEASE_NOTES": release_notes(job),
        }
        show: tuple[tuple[Path, Path], ...] = ()
        if artifact is not None:
            # Shown alone, read-only, where it lies: the rest of Honk's data dir stays covered.
            real = artifact.resolve()
            env["HONK_ARTIFACT"] = str(real)
            show = ((real, real),)
        ws = job.workspace
        launcher = self.sandbox.launcher(
            area, ws.path, [ws.mirror], "deliver", egress=policy, home=home, writable=True, show=show
        )
        try:
            res = await launcher.run(["bash", "-c", command], timeout_s=spec.timeout_s, log=log, env=env)
            written = read_output(output)
        finally:
            launcher.close()
            shutil.rmtree(home, ignore_errors=True)
        return _outcome(spec, command, res, written, str(log), redact)

    async def _grant(self, job: DeliverJob) -> tuple[EgressPolicy, dict[str, str]]:
        if self.egress is None:
            return EgressPolicy("deliver"), {}
        # The deliver phase is not trusted: `variables` is empty today, its secrets go as headers. Should
        # that change, they are still redacted from everything the outcome carries.
        return await self.egress.grant(job.repo, job.config, "deliver")


def _outcome(
    spec: DeliverSpec,
    command: str,
    res: ProcResult,
    written: bytes | DeliveryRefused,
    log: str,
    clean: Callable[[str], str],
) -> DeliveryOutcome:
    def failed(why: str) -> DeliveryOutcome:
        if res.ok:  # it ran fine but said nothing usable: what it printed last is what helps
            said = distill(res.output, None) if res.output.strip() else "it printed nothing"
        else:
            said = distill(res.output, res.exit_code, res.timed_out)
        detail = clean(f"## delivery failed (`{_head(command)}`)\n{why}\n{said}")
        return DeliveryOutcome(state="failed", kind=spec.kind, why=clean(why), detail=detail, log_path=log)

    if res.timed_out:
        return failed(f"stopped after {spec.timeout_s:.0f} s, its timeout")
    if not res.ok:
        return failed(f"exited {res.exit_code}")
    told = parse_output(written) if isinstance(written, bytes) else written
    if isinstance(told, DeliveryRefused):
        return failed(told.why)
    url = told.url
    if url is None and told.status != "processing" and spec.pattern is not None:
        url = find_link(res.output, spec.pattern)
    return _told(spec, told, url, log, clean) or failed(NO_LINK)


def _head(command: str, limit: int = 120) -> str:
    """The command as a heading shows it: its first line, bounded (a script inline in .honk.toml)."""
    lines = command.strip().splitlines() or [""]
    first = lines[0]
    return first[:limit] + "…" if len(first) > limit or len(lines) > 1 else first


def _told(
    spec: DeliverSpec, told: HonkOutput, url: str | None, log: str, redact: Callable[[str], str]
) -> DeliveryOutcome | None:
    """What the command said, as an outcome; None when it said no link and is not processing."""
    if told.status != "processing" and url is None:
        return None
    return DeliveryOutcome(
        state="processing" if told.status == "processing" else "delivered",
        kind=spec.kind,
        url=redact(url) if url else None,
        label=redact(told.label),
        title=redact(told.title),
        version=redact(told.version),
        build=redact(told.build),
        message=redact(told.message),
        log_path=log,
    )
