"""The scope judge: an LLM compares the diff with what was asked and vetoes unrelated changes.

It talks to the Messages API directly (the same endpoint and key the agent uses). A judge that
cannot be reached does not block a change: its absence is reported instead.
"""

from __future__ import annotations

import json
import re

import httpx
from pydantic import SecretStr, ValidationError

from honk.domain import Record

SYSTEM = (
    "You are Honk's scope judge. A coding agent changed a repository to satisfy a request. Decide "
    "whether the diff does what was asked and nothing unrelated: veto scope creep (unrelated refactors, "
    "renames, reformatting, features nobody asked for, changes to unrelated files) and changes that "
    "weaken tests. Do not judge style. Answer with JSON only: "
    '{"ok": true|false, "reason": "one or two sentences a reviewer can act on"}.'
)
MAX_DIFF_CHARS = 60_000


class Verdict(Record):
    ok: bool
    reason: str
    available: bool = True


class Judge:
    def __init__(self, base_url: str, api_key: SecretStr, model: str, timeout_s: float = 120.0) -> None:
        self.base_url, self.api_key, self.model, self.timeout_s = base_url.rstrip("/"), api_key, model, timeout_s

    async def review(self, request: str, follow_ups: list[str], diff: str) -> Verdict:
        asked = request + "".join(f"\nFollow-up: {f}" for f in follow_ups)
        body = {
            "model": self.model,
            "max_tokens": 400,
            "system": SYSTEM,
            "messages": [{"role": "user", "content": f"Request:\n{asked}\n\nDiff:\n{diff[:MAX_DIFF_CHARS]}"}],
        }
        headers = {"x-api-key": self.api_key.get_secret_value(), "anthropic-version": "2023-06-01"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                r = await http.post(f"{self.base_url}/v1/messages", json=body, headers=headers)
            r.raise_for_status()
            text = "".join(b.get("text", "") for b in r.json().get("content", []) if b.get("type") == "text")
            return _parse(text)
        except (httpx.HTTPError, ValueError) as e:
            return Verdict(
                ok=True, reason=f"The judge could not be reached ({type(e).__name__}); not judged.", available=False
            )


def _parse(text: str) -> Verdict:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(match.group(0)) if match else {}
        return Verdict(ok=bool(data["ok"]), reason=str(data.get("reason", "")).strip() or "no reason given")
    except (KeyError, ValueError, ValidationError):
        return Verdict(ok=True, reason="The judge's answer could not be read; not judged.", available=False)
