"""The triggers table through migration 0014, on SQLite and PostgreSQL: a name is unique, a token is found
only by its digest, and a deleted trigger is gone."""

from __future__ import annotations

import pytest

from honk.errors import Conflict
from honk.store import Store
from honk.store.triggers import Triggers


async def test_a_trigger_is_kept_found_by_digest_and_removed(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        triggers = Triggers(store)
        made = await triggers.add("nightly-alert", "calc", "fix the alert", None, "a" * 64, "ada@example.com")
        assert made.fired == 0 and made.created_at.tzinfo is not None
        with pytest.raises(Conflict, match="already exists"):
            await triggers.add("nightly-alert", "calc", "other", None, "b" * 64, "bo@example.com")
        assert (await triggers.by_digest("a" * 64)) == made
        assert await triggers.by_digest("b" * 64) is None
        await triggers.fired("nightly-alert")
        again = await triggers.get("nightly-alert")
        assert again is not None and again.fired == 1 and again.last_fired_at is not None
        assert [t.name for t in await triggers.listed("calc")] == ["nightly-alert"]
        assert await triggers.listed("other") == []
        assert await triggers.remove("nightly-alert")
        assert not await triggers.remove("nightly-alert")
        assert await triggers.by_digest("a" * 64) is None
    finally:
        await store.close()
