"""A request comes with files (a screenshot of the broken screen, the server's log): each is kept for
the agent or refused with a reason, on its own, and the task goes on with the rest. The front door is
hostile-tested: a form from another site, an oversized or malformed body, a request part that lies."""

from __future__ import annotations

import io
import json
import socket

from PIL import Image

from honk.domain import TaskState
from honk.events import AttachmentsReceived
from honk.testing.processes import wait_until
from repos import CALC_TEST

UPLOAD = {"X-Honk-Client": "test"}

# The repo's command agent: reads every attached file the prompt names, says what it saw, fixes add().
SEEING_AGENT = r"""
import pathlib, re, sys
for path in re.findall(r"`(/[^`]*/attachments/[^`]+)`", sys.argv[1]):
    data = pathlib.Path(path).read_bytes()
    print(f"saw {pathlib.Path(path).name} {len(data)} bytes")
print("quoted log:", "KeyError 'playlist'" in sys.argv[1])
calc = pathlib.Path("calc.py")
calc.write_text(calc.read_text().replace("a - b", "a + b"))
"""


def seeing_repo() -> dict[str, str]:
    command = json.dumps("python3 tools/agent.py {prompt}")
    return {
        ".honk.toml": '[[verify]]\nname = "test"\nrun = "python3 -m unittest -q"\ntimeout = 60\n'
        f'[agent]\nname = "command"\ncommand = {command}\n',
        "calc.py": "def add(a, b):\n    return a - b\n",
        "test_calc.py": CALC_TEST,
        "tools/agent.py": SEEING_AGENT,
    }


def screenshot(width: int = 1170, height: int = 2532) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buf, "PNG")
    return buf.getvalue()


def post(stack, body: dict, files: list[tuple[str, bytes]], headers: dict[str, str] | None = None):
    return stack.http.post(
        "/api/tasks",
        data={"request": json.dumps(body)},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers=UPLOAD if headers is None else headers,
    )


def declared_but_not_sent(stack, length: int, path: str = "/api/tasks") -> tuple[int, str]:
    """A multipart request that declares `length` bytes and sends a few (no HTTP client will lie)."""
    host, port = stack.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Honk-Client: test\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {length}\r\n\r\n--xyz\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def received(stack, task_id: str) -> AttachmentsReceived:
    return next(e.event for e in stack.events(task_id) if isinstance(e.event, AttachmentsReceived))


def test_a_screenshot_and_a_log_reach_the_agent_and_a_30_mb_file_is_refused_politely(stack, make_remote):
    remote = make_remote(seeing_repo())
    stack.add_repo("calc", remote.url)
    log = "".join(f"GET /playlist/{i} 200\n" for i in range(3000)) + "Traceback: KeyError 'playlist'\n"
    r = post(
        stack,
        {"repo": "calc", "text": "make add() add"},
        [("IMG_0042.PNG", screenshot()), ("server.log", log.encode()), ("screen-recording.mov", bytes(30 << 20))],
    )
    assert r.status_code == 201, r.text
    task = r.json()["id"]

    got = received(stack, task)
    assert [(a.name, a.kind) for a in got.kept] == [("IMG_0042.png", "image"), ("server.log", "text")]
    assert got.kept[0].note == "scaled from 1170×2532 to 725×1568"
    assert [(x.name, x.reason) for x in got.refused] == [
        ("screen-recording.mov", "it is 30.0 MB; the limit is 20.0 MB")
    ]
    page = stack.http.get(f"/tasks/{task}").text  # the task page says what came with the request
    assert "attached: IMG_0042.png (scaled from 1170×2532 to 725×1568), server.log" in page
    assert "not taken: screen-recording.mov: it is 30.0 MB" in page
    done = stack.wait_for(task, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.ready, done.reason
    said = " ".join(e.event.text for e in stack.events(task) if e.event.kind == "agent_said")
    assert "saw IMG_0042.png" in said and f"saw server.log {len(log)} bytes" in said
    assert "quoted log: True" in said, "the log's end is quoted in the prompt"


def test_the_cli_attaches_files(stack, make_remote, tmp_path):
    remote = make_remote(seeing_repo())
    stack.add_repo("calc", remote.url)
    shot = tmp_path / "shot.png"
    shot.write_bytes(screenshot(300, 600))
    done = stack.honk("ask", "calc", "make add() add", "--attach", str(shot))
    assert done.returncode == 0, done.stderr
    got = received(stack, done.stdout.strip())
    assert [(a.name, a.size) for a in got.kept] == [("shot.png", len(shot.read_bytes()))]
    missing = stack.honk("ask", "calc", "make add() add", "--attach", str(tmp_path / "nope.png"))
    assert missing.returncode != 0 and "nope.png" in missing.stderr and "does not exist" in missing.stderr

    # A follow-up brings a new screenshot: the agent's next run has both files.
    task = done.stdout.strip()
    assert stack.wait_for(task, TaskState.ready, TaskState.failed).state == TaskState.ready
    later = tmp_path / "later.png"
    later.write_bytes(screenshot(200, 100))
    follow = stack.honk("followup", task, "look at this one too", "--attach", str(later))
    assert follow.returncode == 0, follow.stderr
    wait_until(lambda: stack.kinds(task).count("task_ready") == 2, 60, "the follow-up applied")
    kept = [[a.name for a in e.event.kept] for e in stack.events(task) if e.event.kind == "attachments_received"]
    assert kept == [["shot.png"], ["later.png"]]
    said = [e.event.text for e in stack.events(task) if e.event.kind == "agent_said"]
    assert "saw shot.png" in said[-1] and "saw later.png" in said[-1]


def test_hostile_uploads_are_refused_and_leave_no_task(stack, make_remote):
    remote = make_remote(seeing_repo())
    stack.add_repo("calc", remote.url)
    ok = {"repo": "calc", "text": "make add() add"}

    # A form on another site can post multipart, but cannot add a header: refused before any work.
    forged = post(stack, ok, [("a.txt", b"hi")], headers={})
    assert forged.status_code == 415 and "X-Honk-Client" in forged.json()["detail"]
    # Malformed: no request part; a request part that is not the API's JSON; a broken multipart body.
    empty = post(stack, {}, [("a.txt", b"hi")])
    assert empty.status_code == 422 and "repo: Field required" in empty.json()["detail"]
    bare = stack.http.post("/api/tasks", files=[("files", ("a.txt", b"hi"))], headers=UPLOAD)
    assert bare.status_code == 400 and "`request` part" in bare.json()["detail"]
    lying = stack.http.post(
        "/api/tasks", data={"request": "{not json"}, files=[("files", ("a.txt", b"hi"))], headers=UPLOAD
    )
    assert lying.status_code == 422 and "Invalid request" in lying.json()["detail"]
    broken = stack.http.post(
        "/api/tasks",
        content=b'--xyz\r\nContent-Disposition: form-data; name="request"\r\n\r\n{"repo": "calc"',
        headers={**UPLOAD, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400, broken.text
    # Oversized as a whole: refused from its declared length, before the body is read.
    status, answer = declared_but_not_sent(stack, 200 << 20)
    assert status == 413 and "100 MB" in answer
    assert stack.http.get("/api/tasks").json() == [], "nothing half-made stays behind"

    # Replayed: the same request_id is the same task, whatever files the replay carries.
    first = post(stack, {**ok, "request_id": "r-1"}, [("a.txt", b"first")])
    again = post(stack, {**ok, "request_id": "r-1"}, [("b.txt", b"second"), ("c.txt", b"third")])
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert [a.name for a in received(stack, first.json()["id"]).kept] == ["a.txt"]

    # The follow-up door takes files too, and refuses the same: forged, malformed, oversized.
    follow = f"/api/tasks/{first.json()['id']}/followup"
    text = {"request": json.dumps({"text": "and this"})}
    forged = stack.http.post(follow, data=text, files=[("files", ("a.txt", b"hi"))])
    assert forged.status_code == 415 and "X-Honk-Client" in forged.json()["detail"]
    lying = stack.http.post(follow, data={"request": "{no"}, files=[("files", ("a.txt", b"hi"))], headers=UPLOAD)
    assert lying.status_code == 422 and "Invalid request" in lying.json()["detail"]
    status, answer = declared_but_not_sent(stack, 200 << 20, follow)
    assert status == 413 and "100 MB" in answer
    assert not [e for e in stack.events(first.json()["id"]) if e.event.kind == "follow_up_received"]


def test_a_shell_command_in_a_file_name_is_only_a_name(stack, make_remote):
    remote = make_remote(seeing_repo())
    stack.add_repo("calc", remote.url)
    name = "$(touch pwned);`id`;../../x.txt"
    r = post(stack, {"repo": "calc", "text": "make add() add"}, [(name, b"hello")])
    assert r.status_code == 201, r.text
    got = received(stack, r.json()["id"])
    assert [a.name for a in got.kept] == ["x.txt"]
