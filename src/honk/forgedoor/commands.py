"""What a comment that mentions Honk asks: a change (the words around the mention), or one of the few
commands (`@honk stop`, `@honk review`, `@honk autofix off|on`). Pure: text in, a command out, whatever
the text holds (fuzzed in tests/forgedoor)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from honk.domain import MAX_REQUEST_CHARS


@dataclass(frozen=True)
class Ask:
    """A change to make: the comment's words without the mention."""

    text: str


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class ReviewIt:
    pass


@dataclass(frozen=True)
class Autofix:
    on: bool


Command = Ask | Stop | ReviewIt | Autofix

# A command is the mention followed by the command word alone on its line ("@honk stop", "@honk stop."):
# "@honk stop the spinner from flickering" is a request.
_COMMANDS: dict[str, Command] = {
    "stop": Stop(),
    "cancel": Stop(),
    "review": ReviewIt(),
    "autofix off": Autofix(on=False),
    "autofix on": Autofix(on=True),
}


def command(text: str, handle: str) -> Command:
    """The command in `text`, a comment that mentions `@handle`."""
    mention = re.compile(rf"(?<![\w@/.\-])@{re.escape(handle)}(?![\w\-]|\.\w)[,:]?", re.IGNORECASE)
    prose = _CODE.sub(lambda m: " " * len(m.group(0)), text)  # quoted code mentions nobody
    for line in prose.splitlines():
        found = mention.search(line)
        if found is None:
            continue
        rest = " ".join(line[found.end() :].split()).rstrip(".!").lower()
        if rest in _COMMANDS:
            return _COMMANDS[rest]
        break
    # Cut, then cleared again: a cut can end a longer name in a mention ("@honkers" → "@honk").
    return Ask(text=_without(_without(text, mention)[:MAX_REQUEST_CHARS], mention))


_CODE = re.compile(r"```.*?(```|$)|`[^`\n]*`", re.DOTALL)


def _without(text: str, mention: re.Pattern[str]) -> str:
    """`text` without any mention (one removed can join two others: removed until none is left), each
    line's spaces tidied."""
    while (fewer := mention.sub(" ", text)) != text:
        text = fewer
    return "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines()).strip()
