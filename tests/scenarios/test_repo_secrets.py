"""An admin gives a repo its secrets with the real CLI against a real server: the value goes in through
stdin, a file or a silent prompt (never the command line), is kept encrypted, listed by name only,
redacted from everything the server writes (also after a restart), and bad input or people the policy
does not name change nothing — each refusal in the audit log, with the secret's name and never its value."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import termios

import httpx
import pytest

from honk.store import RepoSecrets, SecretKeys, Store
from honk.store.secrets import MAX_SECRET_BYTES
from honk.testing.processes import HonkStack
from repos import DIRECT_FIX, calc_files

VALUE = "npm_live_7c1f0d2e9b8a-never-shown"
OTHER = "deploy-key-4b2a9e77d1-never-shown"


def stored(stack: HonkStack, repo: str, *names: str) -> dict[str, str]:
    """What a worker sharing the server's data dir reads: the same key file, the same database."""

    async def read() -> dict[str, str]:
        store = Store(stack.db_url)
        try:
            keys = SecretKeys([], stack.root / "data" / "repo-secrets.key")
            return await RepoSecrets(store, keys).values(repo, names)
        finally:
            await store.close()

    return asyncio.run(read())


def everything_on_disk(stack: HonkStack) -> bytes:
    """Every file the stack wrote (database, WAL, logs), but the key file."""
    files = [p for p in stack.root.rglob("*") if p.is_file() and p.name != "repo-secrets.key"]
    return b"".join(p.read_bytes() for p in files)


def test_an_admin_sets_lists_and_removes_secrets_through_the_cli(stack, make_remote, tmp_path):
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)

    piped = stack.honk("secret", "set", "calc", "NPM_TOKEN", input=VALUE + "\n")
    assert piped.returncode == 0 and piped.stdout.strip() == "set NPM_TOKEN for calc", piped.stderr
    key_file = stack.root / "data" / "repo-secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, "the server made the key on first use, for Honk's user"
    from_file = tmp_path / "deploy.key"
    from_file.write_text(OTHER + "\r\n")
    assert stack.honk("secret", "set", "calc", "DEPLOY_KEY", "--from-file", str(from_file)).returncode == 0
    assert stored(stack, "calc", "NPM_TOKEN", "DEPLOY_KEY", "NOT_SET") == {"NPM_TOKEN": VALUE, "DEPLOY_KEY": OTHER}

    listed = stack.honk("secret", "list", "calc", check=True).stdout
    assert re.search(r"^DEPLOY_KEY\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+local$", listed, re.M), listed
    assert re.search(r"^NPM_TOKEN\s+.* UTC\s+local$", listed, re.M), listed
    as_json = json.loads(stack.honk("secret", "list", "calc", "--json", check=True).stdout)
    assert [s["name"] for s in as_json] == ["DEPLOY_KEY", "NPM_TOKEN"]
    assert VALUE not in listed + json.dumps(as_json) and OTHER not in listed + json.dumps(as_json)

    # The server redacts what it stored: a request quoting the value keeps only the mask.
    task = stack.ask("calc", f"use the token {VALUE} to publish")
    assert VALUE not in task.text and "[redacted]" in task.text
    # …and, restarted, everything it can decrypt, before anyone sets anything.
    stack.restart_server()
    again = stack.ask("calc", f"the deploy key is {OTHER}")
    assert OTHER not in again.text and "[redacted]" in again.text

    assert stack.honk("secret", "rm", "calc", "NPM_TOKEN", check=True).stdout.strip() == "removed NPM_TOKEN from calc"
    gone = stack.honk("secret", "rm", "calc", "NPM_TOKEN")
    assert gone.returncode == 1 and "calc has no secret NPM_TOKEN" in gone.stderr
    assert [s["name"] for s in stack.http.get("/api/repos/calc/secrets").json()] == ["DEPLOY_KEY"]

    audit = [json.loads(line) for line in stack.honk("audit", "--json", check=True).stdout.splitlines()]
    done = [(e["action"], e["outcome"], e["repo"], e["detail"]) for e in audit if e["action"].startswith("secret")]
    assert done == [
        ("secret_set", "ok", "calc", "set NPM_TOKEN"),
        ("secret_set", "ok", "calc", "set DEPLOY_KEY"),
        ("secret_remove", "ok", "calc", "removed NPM_TOKEN"),
        (
            "secret_remove",
            "refused",
            "calc",
            "calc has no secret NPM_TOKEN (`honk secret list calc` shows its secrets).",
        ),
    ]
    on_disk = everything_on_disk(stack)
    assert VALUE.encode() not in on_disk and OTHER.encode() not in on_disk, "not in the database, its WAL, or a log"


def test_the_value_never_comes_from_the_command_line_and_bad_input_changes_nothing(stack, make_remote, tmp_path):
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)

    argument = stack.honk("secret", "set", "calc", "NPM_TOKEN", VALUE)
    assert argument.returncode == 1
    assert "no value on the command line" in argument.stderr and "pipe it in" in argument.stderr
    assert "--from-file" in argument.stderr
    option = stack.honk("secret", "set", "calc", "NPM_TOKEN", f"--value={VALUE}")
    assert option.returncode == 2 and "No such option" in option.stderr
    for out in (argument, option):
        assert VALUE not in out.stdout + out.stderr, "a refusal never repeats the value"

    for name in ("npm_token", "NPM TOKEN", "../x", "1TOKEN"):
        bad = stack.honk("secret", "set", "calc", name, input=VALUE)
        assert bad.returncode == 1 and "A secret's name is made of A-Z, 0-9 and _" in bad.stderr, name
    empty = stack.honk("secret", "set", "calc", "NPM_TOKEN", input="\n")
    assert empty.returncode == 1 and "No value came from stdin" in empty.stderr
    short = stack.honk("secret", "set", "calc", "NPM_TOKEN", input="1234567\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe\x00 not text at all")
    not_text = stack.honk("secret", "set", "calc", "NPM_TOKEN", "--from-file", str(binary))
    assert not_text.returncode == 1 and "is not UTF-8 text" in not_text.stderr
    huge = stack.honk("secret", "set", "calc", "NPM_TOKEN", input="x" * (MAX_SECRET_BYTES + 3))
    assert huge.returncode == 1 and "larger than 64 KiB" in huge.stderr
    unknown = stack.honk("secret", "set", "nope", "NPM_TOKEN", input=VALUE)
    assert unknown.returncode == 1 and "Unknown repo 'nope'" in unknown.stderr

    put = stack.http.put
    over = put("/api/repos/calc/secrets/NPM_TOKEN", json={"value": "x" * (MAX_SECRET_BYTES + 1)})
    assert over.status_code == 400 and "65,537 bytes" in over.json()["detail"]
    flood = put(
        "/api/repos/calc/secrets/NPM_TOKEN",
        content=b'{"value": "' + b"x" * (7 * MAX_SECRET_BYTES) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert flood.status_code == 413 and "larger than 64 KiB" in flood.json()["detail"]
    json_body = {"Content-Type": "application/json"}
    for content in (b'{"value": "\xff\xfe-not-utf-8-but-long"}', b'{"value": ', b'{"value": 12345678}', b"{}"):
        r = put("/api/repos/calc/secrets/NPM_TOKEN", content=content, headers=json_body)
        assert r.status_code == 422 and r.json()["detail"].startswith("Invalid request:"), (content, r.text)
    nul = put("/api/repos/calc/secrets/NPM_TOKEN", json={"value": "with-a-nul-\x00-inside"})
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]
    extra = put("/api/repos/calc/secrets/NPM_TOKEN", json={"value": VALUE, "by": "someone"})
    assert extra.status_code == 422
    lowercase = put("/api/repos/calc/secrets/npm_token", json={"value": VALUE})
    assert lowercase.status_code == 400 and "A secret's name" in lowercase.json()["detail"]
    spaced = put("/api/repos/calc/secrets/NPM%20TOKEN", json={"value": VALUE})
    assert spaced.status_code == 400
    escape = put("/api/repos/calc/secrets/..%2Fx", json={"value": VALUE})
    assert escape.status_code in (400, 404)
    form = put("/api/repos/calc/secrets/NPM_TOKEN", content=f"value={VALUE}".encode())
    assert form.status_code == 415
    assert put("/api/repos/nope/secrets/NPM_TOKEN", json={"value": VALUE}).status_code == 404

    assert stack.http.get("/api/repos/calc/secrets").json() == [], "nothing was stored"
    assert VALUE.encode() not in everything_on_disk(stack)


def test_a_value_typed_at_the_terminal_is_not_echoed(stack, make_remote):
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    master, terminal = pty.openpty()

    def own_terminal() -> None:  # the child's session takes the pty as its controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "honk", "secret", "set", "calc", "TYPED_TOKEN"],
        env={**stack.env, "HONK_URL": stack.url},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=own_terminal,
    )
    os.close(terminal)
    try:
        seen = _read_until(master, b"Value of TYPED_TOKEN: ")
        os.write(master, VALUE.encode() + b"\n")
        seen += _read_until(master, b"Repeat for confirmation: ")
        os.write(master, VALUE.encode() + b"\n")
        seen += _read_until(master, b"set TYPED_TOKEN for calc")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert VALUE.encode() not in seen, "the terminal never showed what was typed"
    assert stored(stack, "calc", "TYPED_TOKEN") == {"TYPED_TOKEN": VALUE}


def _read_until(fd: int, wanted: bytes, timeout_s: float = 60) -> bytes:
    seen = b""
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        assert ready, f"timed out waiting for {wanted!r}; the terminal showed {seen!r}"
        try:
            seen += os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
    assert wanted in seen, seen
    return seen


POLICY = """
[users."ada@example.com"]
[users."bo@example.com"]
[users."ana@example.com"]

[repos."*"]
admins = ["ada@example.com"]
"""


@pytest.fixture
def guarded(tmp_path, temporal):
    stack = HonkStack(tmp_path / "honk", temporal.address, anonymous="false", policy=POLICY)
    yield stack
    stack.stop()


def test_only_admins_the_policy_names_manage_secrets_and_refusals_are_audited(guarded, make_remote):
    stack = guarded
    ada_link, ada = stack.add_user("ada@example.com", "admin")
    _, bo = stack.add_user("bo@example.com", "admin")  # an admin account the policy does not name
    _, ana = stack.add_user("ana@example.com", "merger")
    stack.http.headers["Authorization"] = f"Bearer {ada}"
    stack.add_repo("calc", make_remote(calc_files(DIRECT_FIX)).url)
    assert stack.http.get("/api/repos/calc/secrets", headers={"Authorization": ""}).status_code == 401

    as_ana = stack.honk("--token", ana, "secret", "set", "calc", "NPM_TOKEN", input=VALUE)
    assert as_ana.returncode == 1
    assert "Refused by policy rule accounts.role: ana@example.com is a merger; setting a secret needs an admin" in (
        as_ana.stderr
    )
    as_bo = stack.honk("--token", bo, "secret", "set", "calc", "NPM_TOKEN", input=VALUE)
    assert as_bo.returncode == 1
    assert 'Refused by policy rule repos."*".admins: bo@example.com may not set the secrets of calc' in as_bo.stderr
    bo_api = {"Authorization": f"Bearer {bo}"}
    listed = stack.http.get("/api/repos/calc/secrets", headers=bo_api)
    assert listed.status_code == 403 and listed.json()["detail"].startswith('Refused by policy rule repos."*".admins')
    removed = stack.http.request("DELETE", "/api/repos/calc/secrets/NPM_TOKEN", json={}, headers=bo_api)
    assert removed.status_code == 403
    assert stack.http.get("/api/repos/calc/secrets").json() == [], "nothing was stored"

    assert stack.honk("--token", ada, "secret", "set", "calc", "NPM_TOKEN", input=VALUE).returncode == 0
    listed_by_ada = stack.honk("--token", ada, "secret", "list", "calc", check=True).stdout
    assert "NPM_TOKEN" in listed_by_ada and "ada@example.com" in listed_by_ada and VALUE not in listed_by_ada

    # A browser session writes only with its CSRF token.
    browser = httpx.Client(base_url=stack.url)
    browser.get(ada_link.replace(stack.url, ""), follow_redirects=False)
    csrf = browser.get("/api/me").json()["csrf"]
    forged = browser.put("/api/repos/calc/secrets/SESSION_TOKEN", json={"value": OTHER})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    signed = browser.put("/api/repos/calc/secrets/SESSION_TOKEN", json={"value": OTHER}, headers={"X-CSRF-Token": csrf})
    assert signed.status_code == 200 and signed.json()["updated_by"] == "ada@example.com"
    assert set(signed.json()) == {"name", "created_at", "updated_at", "updated_by"}, "an answer never has the value"

    out = stack.honk("--token", ada, "audit", "--json", check=True).stdout
    entries = [json.loads(line) for line in out.splitlines()]
    secret_entries = {(e["actor"], e["action"], e["outcome"], e["rule"], e["front_door"]) for e in entries}
    assert secret_entries >= {
        ("ana@example.com", "secret_set", "refused", "accounts.role", "cli"),
        ("bo@example.com", "secret_set", "refused", 'repos."*".admins', "cli"),
        ("bo@example.com", "secret_list", "refused", 'repos."*".admins', "api"),
        ("bo@example.com", "secret_remove", "refused", 'repos."*".admins', "api"),
        ("ada@example.com", "secret_set", "ok", None, "cli"),
        ("ada@example.com", "secret_set", "ok", None, "web"),
    }, secret_entries
    assert VALUE not in out and OTHER not in out
