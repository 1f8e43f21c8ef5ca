"""A task request with files: `multipart/form-data`, the request's JSON in a `request` part and each
file in a `files` part. Files are read here only up to the size Honk would keep (past it a file is
refused by honk.attachments, not read whole), and a request is bounded as a whole. A repo secret's
JSON body, and an allowed host's, are bounded the same way."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from honk.attachments import MAX_FILE_BYTES, Incoming
from honk.domain import MAX_ATTACHMENTS
from honk.errors import UserFacingError
from honk.store.secrets import MAX_SECRET_BYTES
from honk.web.schemas import FollowUpIn, HostAllowIn, SecretIn, TaskIn

B = TypeVar("B", bound=BaseModel)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # the whole request; a file over MAX_FILE_BYTES is refused anyway
CHUNK = 1024 * 1024
# A secret's body: JSON may spell every byte of the value as a six-character escape (\u00XX).
MAX_SECRET_BODY = 6 * MAX_SECRET_BYTES + 1024
MAX_HOST_BODY = 4096  # a host name and a few phases, with room for escapes


class TooLarge(UserFacingError):
    status_code = 413


class InvalidBody(UserFacingError):
    status_code = 422  # as FastAPI answers a JSON body that does not validate


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A request body's two forms (JSON, or multipart with files), for the API's OpenAPI description."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": model.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["request"],
                    "properties": {
                        "request": {"type": "string", "description": f"the {model.__name__} JSON"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }


TASK_BODY = body_schema(TaskIn)
FOLLOW_UP_BODY = body_schema(FollowUpIn)
SECRET_BODY = {"required": True, "content": {"application/json": {"schema": SecretIn.model_json_schema()}}}
HOST_BODY = {"required": True, "content": {"application/json": {"schema": HostAllowIn.model_json_schema()}}}


async def task_body(request: Request) -> tuple[TaskIn, list[Incoming]]:
    return await body_with_files(request, TaskIn)


async def follow_up_body(request: Request) -> tuple[FollowUpIn, list[Incoming]]:
    return await body_with_files(request, FollowUpIn)


async def body_with_files(request: Request, model: type[B]) -> tuple[B, list[Incoming]]:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        return _parsed(model, await request.body()), []
    if not kind.startswith("multipart/form-data"):
        raise UserFacingError("Send the request as JSON, or as multipart/form-data with files.")
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"The request is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB; send fewer or smaller files."
        )
    try:
        form = await request.form(max_files=MAX_ATTACHMENTS * 2, max_fields=10)
    except Exception as e:  # the multipart parser's own errors (a malformed body, too many parts)
        raise UserFacingError(f"The multipart body could not be read: {e}") from e
    try:
        raw = form.get("request")
        if not isinstance(raw, str):
            raise UserFacingError("The multipart body needs a `request` part holding the request's JSON.")
        body = _parsed(model, raw.encode())
        files = [
            Incoming(f.filename or "", await _bounded(f), f.size)
            for f in form.getlist("files")
            if isinstance(f, UploadFile)
        ]
    finally:
        await form.close()
    return body, files


async def secret_body(request: Request) -> SecretIn:
    """`{"value": …}`, read only up to the most a secret's JSON can take."""
    too_large = f"The secret is larger than {MAX_SECRET_BYTES // 1024} KiB, the most Honk keeps."
    return _parsed(SecretIn, await _capped(request, MAX_SECRET_BODY, too_large))


async def host_body(request: Request) -> HostAllowIn:
    """`{"host": …, "phases": […]}`, read only up to a few KiB."""
    too_large = f"The request is larger than {MAX_HOST_BODY // 1024} KiB: send a host and its phases."
    return _parsed(HostAllowIn, await _capped(request, MAX_HOST_BODY, too_large))


async def json_body(request: Request, model: type[B], limit: int, too_large: str) -> B:
    """A JSON body as `model`, read no further than `limit` bytes (TooLarge, saying `too_large`, past it): for
    routes whose bodies are small, so a huge one is refused before it is held whole."""
    return _parsed(model, await _capped(request, limit, too_large))


async def _capped(request: Request, limit: int, too_large: str) -> bytes:
    """The body, read no further than `limit` bytes (TooLarge, saying `too_large`, past it)."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise TooLarge(too_large)
    return bytes(raw)


def _parsed(model: type[B], raw: bytes) -> B:
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors())
        raise InvalidBody(f"Invalid request: {problems}") from e


async def _bounded(f: UploadFile) -> bytes:
    """The file, or its first MAX_FILE_BYTES + 1 bytes: enough for honk.attachments to refuse it."""
    out = bytearray()
    while len(out) <= MAX_FILE_BYTES and (chunk := await f.read(CHUNK)):
        out += chunk
    return bytes(out)
