"""Errors a person must act on. Anything else is a bug and propagates (Temporal retries it)."""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is safe and useful to show in chat, the web page or the terminal."""

    #: HTTP status the web API answers with when this error reaches it.
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(UserFacingError):
    status_code = 404


class Conflict(UserFacingError):
    """The request is valid but the task or repo is not in a state that allows it."""

    status_code = 409


class InvalidRepoConfig(UserFacingError):
    """The target repo's `.honk.toml` cannot be used; the message names file, line and problem."""

    status_code = 422


class Unavailable(UserFacingError):
    """A service Honk depends on (Temporal, a git remote) cannot be reached right now."""

    status_code = 503


class Unauthorized(UserFacingError):
    status_code = 401


class Forbidden(UserFacingError):
    status_code = 403
