"""Logging for Honk's processes: one format, and no secret in any line, whoever logs it.

Redaction happens where records are made (a record factory), not in one handler, so lines from
libraries with their own handlers (uvicorn, slack_sdk, httpx, temporalio) are covered too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from honk import redaction
from honk.settings import Settings

_installed = False


def configure(settings: Settings) -> None:
    level = settings.operations.log_level.upper()
    if settings.operations.log_format == "json":
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact_secrets(settings.secret_values())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, process, and the
    traceback when there is one — what log collectors (Loki, Elasticsearch, CloudWatch) index."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def redact_secrets(values: Iterable[str]) -> None:
    """From now on, these values never reach a log line (nor anything else this process writes)."""
    redaction.configure(values)
    global _installed
    if not _installed:
        _installed = True
        _install()


def _install() -> None:
    make = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)  # type: ignore[arg-type]
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call is logging's to report, not the caller's crash
            return record
        clean = redaction.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later, by the handler: format (and clean) them now.
            record.exc_text = redaction.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
