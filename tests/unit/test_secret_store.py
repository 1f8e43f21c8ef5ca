"""Repo secrets in the store, on SQLite and PostgreSQL: encrypted at rest (the database's bytes never hold a
value), listed without values, redacted from everything the process writes once it holds them, readable
after a key rotation, and a wrong or missing key is an error saying which setting to fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text

from honk import redaction
from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.settings import Settings
from honk.store import RepoSecrets, SecretKeys, Store
from honk.store.secrets import MAX_SECRET_BYTES, _make_key_file

TOKEN = "npm-value-0f3c9a7e-never-shown"
KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
async def store(store_url: str):
    s = Store(store_url)
    await s.create_schema()
    for name in ("calc", "web"):
        await s.add_repo(RepoRef(name=name, url=f"/srv/{name}"))
    yield s
    await s.close()


@pytest.fixture
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's redactor as a new process has it: knowing no secret value yet."""
    monkeypatch.setattr(redaction, "_process", redaction.Redactor())


def keyed(store: Store, *keys: str, key_file: Path | None = None) -> RepoSecrets:
    return RepoSecrets(store, SecretKeys(list(keys), key_file or Path("/nonexistent/repo-secrets.key")))


async def test_set_list_read_and_remove(store: Store):
    secrets = keyed(store, KEY_A)
    first = await secrets.put("calc", "NPM_TOKEN", TOKEN, "ada@example.com")
    assert (first.name, first.updated_by) == ("NPM_TOKEN", "ada@example.com")
    again = await secrets.put("calc", "NPM_TOKEN", TOKEN + "-2", "bo@example.com")
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    await secrets.put("calc", "API_KEY", "another-value-123", "ada@example.com")

    listed = await secrets.names("calc")
    assert [(s.name, s.updated_by) for s in listed] == [("API_KEY", "ada@example.com"), ("NPM_TOKEN", "bo@example.com")]
    assert all(s.updated_at.tzinfo is not None for s in listed)
    assert TOKEN not in str([s.model_dump() for s in listed]), "a listing never carries a value"
    assert await secrets.names("web") == []

    got = await secrets.values("calc", ["NPM_TOKEN", "MISSING", "NPM_TOKEN"])
    assert got == {"NPM_TOKEN": TOKEN + "-2"}, "a missing name is simply absent, for the caller to name"
    assert await secrets.values("web", ["NPM_TOKEN"]) == {}, "secrets belong to their repo"
    assert await secrets.values("calc", []) == {}

    assert await secrets.remove("calc", "NPM_TOKEN") is True
    assert await secrets.remove("calc", "NPM_TOKEN") is False
    assert [s.name for s in await secrets.names("calc")] == ["API_KEY"]


async def test_the_databases_bytes_never_hold_a_value(store: Store, store_url: str, tmp_path: Path):
    value = "db-bytes-check-" + os.urandom(8).hex()
    await keyed(store, KEY_A).put("calc", "DEPLOY_TOKEN", value, "ada@example.com")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM repo_secrets"))).all()
    assert len(rows) == 1
    assert value not in repr(rows) and value.encode() not in bytes(rows[0].ciphertext)
    if store.engine.dialect.name == "sqlite":
        await store.close()  # the WAL is checkpointed into the file
        db = Path(store_url.split(":///", 1)[1])
        files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
        assert files and all(value.encode() not in p.read_bytes() for p in files), files


async def test_what_is_stored_or_read_is_redacted_from_then_on(store: Store, fresh_redactor: None):
    put_value = "redact-after-put-" + os.urandom(6).hex()
    assert redaction.redact(f"x {put_value} y") == f"x {put_value} y"
    await keyed(store, KEY_A).put("calc", "PUT_TOKEN", put_value, "ada@example.com")
    assert redaction.redact(f"x {put_value} y") == f"x {redaction.MASK} y"

    # Another process (a worker) knows a value only once it reads it.
    read_value = "redact-after-read-" + os.urandom(6).hex()
    await keyed(store, KEY_A).put("calc", "READ_TOKEN", read_value, "ada@example.com")
    redaction._process = redaction.Redactor()
    assert redaction.redact(read_value) == read_value
    await keyed(store, KEY_A).values("calc", ["READ_TOKEN"])
    assert redaction.redact(f"token={read_value}") == f"token={redaction.MASK}"
    assert redaction.redact(KEY_A) == redaction.MASK, "the key itself, too"

    # The server at start-up: every stored value it can decrypt.
    redaction._process = redaction.Redactor()
    assert await keyed(store, KEY_A).redact_stored() is None
    assert redaction.redact(f"{put_value} {read_value}") == f"{redaction.MASK} {redaction.MASK}"


async def test_a_rotated_key_still_decrypts_until_rotate_rewrites_everything(store: Store):
    await keyed(store, KEY_A).put("calc", "OLD_TOKEN", "stored-under-a-1", "ada@example.com")
    both = keyed(store, KEY_B, KEY_A)  # a new key first, the old one kept after it
    assert await both.values("calc", ["OLD_TOKEN"]) == {"OLD_TOKEN": "stored-under-a-1"}
    await both.put("calc", "NEW_TOKEN", "stored-under-b-1", "ada@example.com")

    with pytest.raises(UserFacingError) as e:
        await keyed(store, KEY_A).values("calc", ["NEW_TOKEN"])
    assert "HONK_SECRETS_KEY" in e.value.message and "honk secret set calc NEW_TOKEN" in e.value.message
    assert KEY_A not in e.value.message and KEY_B not in e.value.message

    assert await both.rotate() == 2
    only_b = keyed(store, KEY_B)
    assert await only_b.values("calc", ["OLD_TOKEN", "NEW_TOKEN"]) == {
        "OLD_TOKEN": "stored-under-a-1",
        "NEW_TOKEN": "stored-under-b-1",
    }


async def test_rotate_changes_nothing_when_a_secret_does_not_decrypt(store: Store):
    await keyed(store, KEY_A).put("calc", "A_TOKEN", "stored-under-a-2", "ada@example.com")
    await keyed(store, KEY_B).put("web", "B_TOKEN", "stored-under-b-2", "ada@example.com")
    with pytest.raises(UserFacingError, match="A_TOKEN of calc cannot be decrypted"):
        await keyed(store, KEY_B).rotate()
    assert await keyed(store, KEY_B).values("web", ["B_TOKEN"]) == {"B_TOKEN": "stored-under-b-2"}, "unchanged"
    assert await keyed(store, KEY_A).values("calc", ["A_TOKEN"]) == {"A_TOKEN": "stored-under-a-2"}
    problem = await keyed(store, KEY_B).redact_stored()
    assert problem is not None and problem.startswith("1 repo secret(s) cannot be decrypted (calc/A_TOKEN)")


async def test_a_ciphertext_moved_to_another_row_does_not_pass_for_it(store: Store):
    secrets = keyed(store, KEY_A)
    await secrets.put("calc", "REAL_TOKEN", "moved-value-123", "ada@example.com")
    await secrets.put("web", "OTHER_TOKEN", "harmless-value-123", "ada@example.com")
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE repo_secrets SET ciphertext = (SELECT ciphertext FROM repo_secrets WHERE name = 'REAL_TOKEN') "
                "WHERE name = 'OTHER_TOKEN'"
            )
        )
    with pytest.raises(UserFacingError, match="stored for another repo or name"):
        await secrets.values("web", ["OTHER_TOKEN"])


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("npm_token", "long-enough-value", "A-Z, 0-9 and _"),
        ("NPM TOKEN", "long-enough-value", "A-Z, 0-9 and _"),
        ("../x", "long-enough-value", "A-Z, 0-9 and _"),
        ("1TOKEN", "long-enough-value", "A-Z, 0-9 and _"),
        ("T" * 65, "long-enough-value", "at most 64"),
        ("TOKEN\n", "long-enough-value", "A-Z, 0-9 and _"),
        ("TOKEN", "", "empty"),
        ("TOKEN", "  \n ", "empty"),
        ("TOKEN", "7-chars", "at least 8 characters"),
        ("TOKEN", "with-a-nul-\x00-in-it", "NUL"),
        ("TOKEN", "lone-surrogate-\ud800-here", "lone surrogate"),
        ("TOKEN", "x" * (MAX_SECRET_BYTES + 1), "65,537 bytes"),
        ("TOKEN", "é" * (MAX_SECRET_BYTES // 2 + 1), "65,538 bytes"),
    ],
)
async def test_bad_names_and_values_are_refused_and_nothing_is_stored(store: Store, name: str, value: str, says: str):
    secrets = keyed(store, KEY_A)
    with pytest.raises(UserFacingError, match=says) as e:
        await secrets.put("calc", name, value, "ada@example.com")
    assert not value.strip() or value not in e.value.message
    assert await secrets.names("calc") == []


async def test_the_largest_value_is_kept_whole(store: Store):
    secrets = keyed(store, KEY_A)
    value = ("-----BEGIN KEY-----\n" + "k" * MAX_SECRET_BYTES)[:MAX_SECRET_BYTES]
    await secrets.put("calc", "BIG_KEY", value, "ada@example.com")
    assert await secrets.values("calc", ["BIG_KEY"]) == {"BIG_KEY": value}


async def test_without_a_setting_the_key_is_made_in_the_data_dir_on_first_use(store: Store, tmp_path: Path):
    settings = Settings().changed(data_dir=tmp_path / "data")
    key_file = settings.secrets_key_file
    reader = RepoSecrets(store, SecretKeys(settings.secrets_keys(), key_file))
    assert await reader.values("calc", ["NPM_TOKEN"]) == {}, "nothing stored: no key needed"
    assert not key_file.exists()

    await RepoSecrets(store, SecretKeys(settings.secrets_keys(), key_file)).put("calc", "NPM_TOKEN", TOKEN, "ada")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.resolve().is_relative_to(settings.data_dir.resolve())
    assert any(settings.data_dir.resolve() == p for p in settings.secret_paths()), "hidden from sandboxes"
    key = key_file.read_text().strip()
    assert key in settings.secret_values(), "the key is redacted like every other credential"
    assert [p.name for p in key_file.parent.iterdir()] == ["repo-secrets.key"], "no draft left behind"

    # Another process on the same data dir (a worker): the same key, read from the file.
    assert await reader.values("calc", ["NPM_TOKEN"]) == {"NPM_TOKEN": TOKEN}
    # A worker on a machine of its own, with neither the setting nor the file, says what to set.
    elsewhere = RepoSecrets(store, SecretKeys([], tmp_path / "other" / "repo-secrets.key"))
    with pytest.raises(UserFacingError, match="no key for repo secrets: HONK_SECRETS_KEY is not set"):
        await elsewhere.values("calc", ["NPM_TOKEN"])


def test_a_key_file_is_made_once_and_never_replaced(tmp_path: Path):
    key_file = tmp_path / "data" / "repo-secrets.key"
    _make_key_file(key_file)
    made = key_file.read_text()
    _make_key_file(key_file)  # another process sharing the data dir, a moment later
    assert key_file.read_text() == made
    assert [p.name for p in key_file.parent.iterdir()] == ["repo-secrets.key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_malformed_key_setting_is_named_and_never_echoed(tmp_path: Path):
    keys = SecretKeys([KEY_A, "not-a-fernet-key-at-all"], tmp_path / "unused.key")
    with pytest.raises(UserFacingError) as e:
        keys.encrypt(b"x")
    assert e.value.message.startswith("HONK_SECRETS_KEY holds a value that is not a key for repo secrets (key 2 of 2)")
    assert "not-a-fernet-key-at-all" not in e.value.message and KEY_A not in e.value.message
    broken = tmp_path / "repo-secrets.key"
    broken.write_text("garbage\n")
    with pytest.raises(UserFacingError, match=f"{broken} does not hold a key"):
        SecretKeys([], broken).decrypt(b"x")


def test_the_setting_takes_a_comma_separated_list_and_every_key_is_a_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert Settings().secrets_keys() == []
    monkeypatch.setenv("HONK_SECRETS_KEY", f" {KEY_B} ,{KEY_A},")
    settings = Settings()
    assert settings.secrets_keys() == [KEY_B, KEY_A]
    assert {KEY_A, KEY_B} <= set(settings.secret_values())


async def test_a_worker_only_process_builds_the_lookup_from_its_settings(store: Store, tmp_path: Path):
    from honk.composition.worker import repo_secrets

    server = Settings().changed(data_dir=tmp_path / "server", secrets_key=SecretStr(KEY_A))
    await repo_secrets(server, store).put("calc", "DEPLOY_TOKEN", "for-the-egress-proxy", "ada")
    worker = Settings().changed(data_dir=tmp_path / "worker", secrets_key=SecretStr(f"{KEY_B},{KEY_A}"))
    assert await repo_secrets(worker, store).values("calc", ["DEPLOY_TOKEN", "NOT_SET"]) == {
        "DEPLOY_TOKEN": "for-the-egress-proxy"
    }


async def test_honk_db_rotate_secrets_moves_every_secret_to_the_first_key(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}"
    store = Store(url)
    await store.create_schema()
    await store.add_repo(RepoRef(name="calc", url="/srv/calc"))
    await keyed(store, KEY_A).put("calc", "NPM_TOKEN", TOKEN, "ada")
    env = {**os.environ, "HONK_DATABASE_URL": url, "HONK_DATA_DIR": str(tmp_path / "data")}
    env.pop("HONK_SECRETS_KEY", None)
    honk = [sys.executable, "-m", "honk", "db", "rotate-secrets"]

    unset = subprocess.run(honk, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert unset.returncode == 1 and "HONK_SECRETS_KEY is not set" in unset.stderr, unset.stderr
    wrong = subprocess.run(
        honk, env={**env, "HONK_SECRETS_KEY": KEY_B}, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert wrong.returncode == 1 and "NPM_TOKEN of calc cannot be decrypted" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr and KEY_B not in wrong.stderr
    rotated = subprocess.run(
        honk,
        env={**env, "HONK_SECRETS_KEY": f"{KEY_B},{KEY_A}"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rotated.returncode == 0 and rotated.stdout.startswith("1 repo secret(s) encrypted again"), rotated.stderr
    assert await keyed(store, KEY_B).values("calc", ["NPM_TOKEN"]) == {"NPM_TOKEN": TOKEN}
    await store.close()
