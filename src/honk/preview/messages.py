"""What a person reads when a preview did not start or stopped: what happened, and what to change.
The log's last lines are shown beside these (`PreviewOutcome.log_tail`, the registry's detail)."""

from __future__ import annotations

from honk.domain import PREVIEW_PORT, PreviewSpec, ProcResult
from honk.preview.ready import Readiness

NO_START = "[preview] has no `start`: a `dir` preview is files the build made, served as they are, not a server to run."
WORKER_STOPPED = "stopped: the worker that ran it shut down (it starts again on the next visit)."
STOP_WANTED = "stopped on request."
START_INTERRUPTED = "stopped while it was starting (the step that started it was cancelled)."


def install_failed(res: ProcResult, spec: PreviewSpec) -> str:
    if res.timed_out:
        return (
            f"`install` did not finish within {spec.install_timeout_s:.0f}s, so the server was not started: "
            "make it faster, or raise [preview] install_timeout."
        )
    return (
        f"`install` failed (exit {res.exit_code}), so the server was not started: the lines below say why; "
        "fix [preview] install (or what it installs) so it succeeds in the sandbox."
    )


def not_ready(seen: Readiness, spec: PreviewSpec, code: int | None) -> str:
    if seen.exited:
        return (
            f"`start` exited (exit {code}) before it answered on PORT={PREVIEW_PORT}: it must keep running "
            "and serve there; the log's last lines say why it stopped."
        )
    waited = f"{spec.ready_timeout_s:.0f}s"
    if not seen.answered:
        return f"nothing answered on PORT={PREVIEW_PORT} within {waited}: does `start` listen on $PORT and $HOST?"
    if seen.status:
        return (
            f"`ready` ({spec.ready}) still answered {seen.status} after {waited}: the server runs but fails that "
            "page; fix it, or point [preview] ready at a path that answers once the server is up."
        )
    return (
        f"`ready` ({spec.ready}) got no HTTP answer within {waited}: something listens on PORT={PREVIEW_PORT} "
        "but does not speak HTTP there."
    )


def crashed(code: int | None) -> str:
    return (
        f"the server exited on its own (exit {code}) after it was ready: the log's last lines say why; "
        "it starts again on the next visit."
    )


def idle(idle_s: float) -> str:
    return f"stopped after {idle_s / 60:.0f} min without visits (idle_stop); it starts again on the next visit."


def room(max_running: int) -> str:
    return (
        f"stopped to make room: this worker runs at most {max_running} previews (HONK_PREVIEW_MAX_RUNNING) and "
        "this one was idle longest; it starts again on the next visit."
    )
