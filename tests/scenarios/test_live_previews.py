"""A task's new version runs as a live preview: started after its checks and build pass, reached
through its own socket (no port on the machine), stopped with the task — nothing left running."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from honk.domain import PreviewEndpoint, TaskState
from honk.ports import free_port
from honk.preview.endpoint import open_preview_stream
from honk.store import PreviewRegistry, Store
from honk.testing.processes import HonkStack, wait_until
from repos import DIRECT_FIX, calc_files, sample_files


def _preview(stack: HonkStack, task_id: str):  # noqa: ANN202 - a PreviewInfo
    async def read():  # noqa: ANN202
        store = Store(stack.db_url)
        try:
            return await PreviewRegistry(store).get(task_id)
        finally:
            await store.close()

    return asyncio.run(read())


def _get(endpoint: PreviewEndpoint, task_id: str, path: str = "/") -> bytes:
    async def go() -> bytes:
        reader, writer = await open_preview_stream(endpoint, task_id)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return data

    return asyncio.run(go())


def _running(marker: str, under: HonkStack | None = None) -> list[int]:
    """Processes whose command line names `marker` (the sample's dev server); with `under`, only those that
    descend from that stack's server or workers: another test's preview (the other test worker runs the
    sample too) is not this one's."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    found = [pid for pid in found if pid != os.getpid()]
    if under is None:
        return found
    roots = {under.server.pid, *(w.pid for w in under.workers)}
    return [pid for pid in found if _descends(pid, roots)]


def _descends(pid: int, roots: set[int]) -> bool:
    while pid > 1:
        if pid in roots:
            return True
        try:  # the parent is the field after the command's closing parenthesis
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def test_the_sample_runs_as_a_live_preview_until_the_task_ends(stack, make_remote):
    stack.add_repo("sample", make_remote(sample_files()).url)
    task = stack.ask("sample", "The app crashes when a playlist is empty. Fix it.")
    ready = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180)
    assert ready.state == TaskState.ready, ready.reason
    kinds = stack.kinds(task.id)
    assert kinds.index("build_ready") < kinds.index("preview_ready") < kinds.index("task_ready")
    assert ready.preview_url == f"http://{task.id}.localhost:{stack.port}"

    info = _preview(stack, task.id)
    assert info is not None and info.state == "running" and info.endpoint is not None
    assert info.endpoint.address.startswith("unix:")
    page = _get(info.endpoint, task.id)
    assert b"200 OK" in page.split(b"\r\n")[0] and b"Playlists" in page
    server = _running("serve.py", stack)
    assert server, "the dev server runs"

    shots = [e.event for e in stack.events(task.id) if e.event.kind == "screenshots_taken"]
    assert len(shots) == 1 and [r.route for r in shots[0].routes] == ["/"]
    pairs = {p.viewport: p for p in shots[0].routes[0].shots}
    assert set(pairs) == {"phone", "desktop"} and all(not p.error for p in pairs.values()), pairs
    # The fix makes no visible change to "/" (empty playlists are still left off the page): proof, not a guess.
    assert pairs["phone"].changed == 0
    files = stack.root / "data" / "shots" / task.id
    assert (files / str(pairs["phone"].after)).is_file() and (files / str(pairs["phone"].before)).is_file()

    assert stack.http.post(f"/api/tasks/{task.id}/cancel", json={}).status_code == 202
    stack.wait_for(task.id, TaskState.cancelled)
    # Those very processes, by pid: one that outlived the task would have left the stack's tree (re-parented).
    wait_until(lambda: not [p for p in server if (Path("/proc") / str(p)).exists()], 15, "the dev server to end")
    assert not _running("serve.py", stack), "nor another started meanwhile"
    wait_until(lambda: _preview(stack, task.id).state == "stopped", 15, "the preview to be recorded stopped")


def test_a_preview_that_cannot_start_leaves_the_task_reviewable_saying_why(stack, make_remote):
    broken = '[preview]\nstart = "echo Error: no module named flask >&2; exit 3"\nready_timeout = 20\n'
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX, broken)).url)
    task = stack.ask("calc", "make add() add")
    ready = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert ready.state == TaskState.ready, ready.reason
    failed = [e.event for e in stack.events(task.id) if e.event.kind == "preview_failed"]
    assert len(failed) == 1 and "exited" in failed[0].reason and "no module named flask" in failed[0].log_tail
    done = [e.event for e in stack.events(task.id) if e.event.kind == "task_ready"][-1]
    assert any(w.startswith("preview failed:") for w in done.warnings), done.warnings
    assert _preview(stack, task.id).state == "failed"
    assert not _running("no module named flask")


def test_an_idle_preview_stops_and_wakes_on_the_next_request(tmp_path, temporal, make_remote):
    files = sample_files()
    # Six seconds without a request: longer than the server keeps a preview's state (2 s) or waits between
    # its notes that someone opened it (5 s), as any real idle_stop (minutes) is.
    files[".honk.toml"] = files[".honk.toml"].replace("idle_stop = 15", "idle_stop = 0.1")
    stack = HonkStack(tmp_path, temporal.address, preview_reap_interval_s="0.3", preview_chromium="off")
    try:
        stack.add_repo("sample", make_remote(files).url)
        task = stack.ask("sample", "The app crashes when a playlist is empty. Fix it.")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180).state == TaskState.ready
        cookie = stack.preview_cookie(task.id)
        wait_until(lambda: _preview(stack, task.id).state == "stopped", 30, "the idle preview to be stopped")
        assert not _running("serve.py", stack), "an idle-stopped preview holds no process"

        asleep = stack.preview(task.id, "/", cookie)
        assert asleep.status_code == 503 and "Starting the preview" in asleep.text
        assert asleep.headers["retry-after"] and '<meta http-equiv="refresh"' in asleep.text
        wait_until(lambda: stack.preview(task.id, "/", cookie).status_code == 200, 60, "the preview to wake")
        assert "Playlists" in stack.preview(task.id, "/", cookie).text
        assert _preview(stack, task.id).state == "running"
        assert not stack.preview(task.id, "/", None).is_success, "no way in without the preview's cookie"
    finally:
        stack.stop()


def test_split_deployment_the_server_reaches_a_workers_preview_and_another_worker_takes_it_over(
    tmp_path, temporal, make_remote
):
    """Server and workers on machines of their own (separate data dirs; one database): the worker that
    holds the workspace runs the preview behind its gateway; when that worker is gone, the next request
    wakes it on another, which makes the workspace again from the task's branch."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'server' / 'data' / 'honk.db'}"
    shared = {"HONK_PREVIEW_LINK_KEY": "a-key-the-server-and-workers-share", "HONK_PREVIEW_CHROMIUM": "off"}

    def machine(name: str) -> dict[str, str]:
        return {"HONK_DATA_DIR": str(tmp_path / name), "HONK_DATABASE_URL": db,
                "HONK_PREVIEW_ADDRESS": f"127.0.0.1:{free_port()}"}  # fmt: skip

    stack = HonkStack(tmp_path / "server", temporal.address, extra_env=shared, worker_env=machine("one"))
    try:
        stack.add_repo("sample", make_remote(sample_files()).url)
        task = stack.ask("sample", "The app crashes when a playlist is empty. Fix it.")
        assert stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=180).state == TaskState.ready
        info = _preview(stack, task.id)
        assert info.endpoint is not None and info.endpoint.address.startswith("tcp:127.0.0.1:")
        assert not (tmp_path / "server" / "data" / "workspaces").exists(), "the server holds no workspace"
        cookie = stack.preview_cookie(task.id)
        first = stack.preview(task.id, "/", cookie)
        assert first.status_code == 200 and "Playlists" in first.text

        stack.kill_worker(stack.workers[0])  # machine one is gone, its preview with it
        wait_until(lambda: not _running("serve.py"), 15, "machine one's preview to die with it")
        two = stack.start_worker(**machine("two"))
        assert two.poll() is None
        assert stack.preview(task.id, "/", cookie).status_code == 503  # starting again, elsewhere
        wait_until(lambda: stack.preview(task.id, "/", cookie).status_code == 200, 90, "machine two's preview")
        assert "Playlists" in stack.preview(task.id, "/", cookie).text
        moved = _preview(stack, task.id)
        assert moved.endpoint is not None and moved.endpoint != info.endpoint and moved.worker != info.worker
        assert (tmp_path / "two" / "workspaces" / task.id).is_dir(), "made again from the task's branch"
    finally:
        stack.stop()
