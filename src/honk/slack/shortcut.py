"""The message shortcut "Fix with Honk": a form prefilled from a message (its text, its files named,
the channel's default repo chosen), and what the form carries back when it is sent.

The form's private_metadata says where the message is (channel, ts, thread, file ids) and nothing
else; a submission whose metadata is not exactly that did not come from a form Honk opened, and
starts nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError

from honk.domain import MAX_ATTACHMENTS, Record
from honk.slack import blocks, intake, limits

CALLBACK_ID = "fix_with_honk"
REQUEST, REPO, PLAN = "request", "repo", "plan"  # the form's input blocks: errors are shown on them
MAX_FILES = MAX_ATTACHMENTS + 1  # one past the count, so the refusal by count says why
SLACK_ID = r"^[A-Z0-9]{2,32}$"
TS = r"^[0-9]{1,12}\.[0-9]{1,9}$"
# Bounded well within private_metadata's 3,000 characters: 11 ids of 32 at most, two ts, a channel.
SlackId = Annotated[str, Field(pattern=SLACK_ID)]
Ts = Annotated[str, Field(pattern=TS)]


class Origin(Record):
    """The message the shortcut was used on."""

    channel: SlackId
    ts: Ts
    thread_ts: Ts  # its thread's, or its own ts: where Honk answers
    files: Annotated[list[SlackId], Field(max_length=MAX_FILES)] = []

    @property
    def metadata(self) -> str:
        return self.model_dump_json()


class Filled(Record):
    """What the person sent in the form."""

    text: str
    repo: str | None
    plan: bool


def origin_of(shortcut: dict[str, Any]) -> Origin | None:
    """Where a `message_action` payload's message is; None for a payload without one."""
    message = shortcut.get("message")
    message = message if isinstance(message, dict) else {}
    ts = message.get("ts") or shortcut.get("message_ts")
    files = [f["id"] for f in message.get("files") or [] if isinstance(f, dict) and isinstance(f.get("id"), str)]
    try:
        return Origin.model_validate(
            {
                "channel": _dig(shortcut, "channel", "id"),
                "ts": ts,
                "thread_ts": message.get("thread_ts") or ts,
                "files": files[:MAX_FILES],
            }
        )
    except ValidationError:
        return None


def said(message: dict[str, Any]) -> str:
    """The message as people read it, to prefill the form: its text, and a forwarded message's (a
    customer's report shared into the channel), Slack's markup undone as for a mention."""
    parts = [intake.unescape(str(message.get("text") or ""))]
    for a in message.get("attachments") or []:
        if isinstance(a, dict) and (shared := intake.unescape(str(a.get("text") or a.get("fallback") or ""))):
            parts.append(f"(forwarded from {a.get('author_name') or 'someone'}) {shared}")
    return "\n\n".join(p for p in parts if p)


def file_names(message: dict[str, Any]) -> list[str]:
    return [str(f.get("name") or f.get("id")) for f in message.get("files") or [] if isinstance(f, dict)]


def from_metadata(metadata: Any) -> Origin | None:
    """The origin a form carried; None for anything Honk did not put there."""
    if not isinstance(metadata, str) or len(metadata) > limits.PRIVATE_METADATA:
        return None
    try:
        return Origin.model_validate_json(metadata)
    except ValidationError:
        return None


def form(origin: Origin, text: str, names: list[str], repos: list[str], default: str | None) -> dict[str, Any]:
    """The form: the message's text to edit, its files' `names`, a repo to pick (`default` chosen), Plan first."""
    request: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "text",
        "multiline": True,
        "max_length": limits.INPUT_TEXT,
    }
    if text.strip():
        request["initial_value"] = limits.cut(text.strip(), limits.INPUT_TEXT)
    body: list[dict[str, Any]] = [
        {"type": "input", "block_id": REQUEST, "label": blocks.plain("What should change?"), "element": request}
    ]
    if names:
        named = ", ".join(f"`{blocks.escaped(n)}`" for n in names[:MAX_FILES])
        more = f" (Honk takes {MAX_ATTACHMENTS} at most)" if len(names) > MAX_ATTACHMENTS else ""
        body.append(blocks.context(f"📎 Comes with the message's files: {named}{more}"))
    body.append(
        {
            "type": "input",
            "block_id": REPO,
            "label": blocks.plain("Repo"),
            "element": _repo_picker(repos, default),
        }
    )
    body.append(
        {
            "type": "input",
            "block_id": PLAN,
            "optional": True,
            "label": blocks.plain("Before any change"),
            "element": {
                "type": "checkboxes",
                "action_id": "plan",
                "options": [
                    {
                        "text": blocks.plain("Plan first"),
                        "description": blocks.plain("A plan to approve; nothing changes until you do."),
                        "value": "plan",
                    }
                ],
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": origin.metadata,
        "title": blocks.plain("Fix with Honk"),
        "submit": blocks.plain("Start"),
        "close": blocks.plain("Cancel"),
        "blocks": body,
    }


def no_repos_form() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": blocks.plain("Fix with Honk"),
        "close": blocks.plain("Close"),
        "blocks": [
            blocks.section("Honk has no repos yet. Add one (`honk repo add NAME URL`), then use *Fix with Honk* again.")
        ],
    }


def filled(view: dict[str, Any]) -> Filled:
    values = _dig(view, "state", "values")
    text = _dig(values, REQUEST, "text", "value")
    repo = _dig(values, REPO, "repo", "selected_option", "value")
    picked = _dig(values, PLAN, "plan", "selected_options")
    return Filled(
        text=text.strip() if isinstance(text, str) else "",
        repo=repo if isinstance(repo, str) and repo else None,
        plan=isinstance(picked, list) and any(isinstance(o, dict) and o.get("value") == "plan" for o in picked),
    )


def _repo_picker(repos: list[str], default: str | None) -> dict[str, Any]:
    """A static select holds 100 options: the channel's default is always one of them."""
    names = sorted(set(repos))
    if default in names:
        names = sorted({default, *[n for n in names if n != default][: limits.SELECT_OPTIONS - 1]})
    picker: dict[str, Any] = {
        "type": "static_select",
        "action_id": "repo",
        "placeholder": blocks.plain("Choose a repo"),
        "options": [_option(n) for n in names[: limits.SELECT_OPTIONS]],
    }
    if default in names:
        picker["initial_option"] = _option(default)
    return picker


def _option(repo: str) -> dict[str, Any]:
    return {"text": blocks.plain(limits.cut(repo, limits.OPTION_TEXT)), "value": repo}


def _dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`, or None where the payload has another shape."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
