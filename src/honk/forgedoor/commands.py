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
    for line in text.splitlines():
        found = mention.search(line)
        if found is None:
            continue
        rest = " ".join(line[found.end() :].split()).rstrip(".!").lower()
        if rest in _COMMANDS:
            return _COMMANDS[rest]
        break
    asked = " ".join(mention.sub(" ", text).split(" ")).strip()
    asked = re.sub(r"[ \t]{2,}", " ", asked)
    return Ask(text=asked[:MAX_REQUEST_CHARS])
