"""Loaded by the counting run's server and worker (on their PYTHONPATH): logs each subprocess they
start and each store transaction they commit, one line per thing, to $HONK_COUNT_LOG."""

import os

_LOG = os.environ.get("HONK_COUNT_LOG")


def _note(kind: str, what: str) -> None:
    with open(_LOG, "a") as f:  # noqa: PTH123 - kept dependency-free
        f.write(f"{os.getpid()}\t{kind}\t{what}\n")


if _LOG:
    import subprocess

    _execute = subprocess.Popen._execute_child  # type: ignore[attr-defined]

    def _counted(self, args, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        _note(
            "spawn",
            (" ".join(map(str, args)) if not isinstance(args, (str, bytes)) else str(args))[:300].replace("\n", " "),
        )
        return _execute(self, args, *a, **kw)

    subprocess.Popen._execute_child = _counted  # type: ignore[attr-defined]

    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "commit", lambda conn: _note("commit", ""))
        if os.environ.get("HONK_COUNT_SQL"):
            event.listen(
                Engine,
                "before_cursor_execute",
                lambda conn, cursor, statement, *rest: _note("sql", " ".join(statement.split())[:110]),
            )
    except ImportError:
        pass
