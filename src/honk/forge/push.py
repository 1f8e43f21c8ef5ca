"""The infrastructure's push of a task branch to the forge (the agent never pushes).

The token reaches git only through the environment of the one `git push`: a credential helper
given on the command line reads it from a variable. It is never part of the URL, a config file,
an argument or a log line. The helper list is reset first, so that a helper configured for the
user (`store`, a keychain) is neither asked nor told to save the token after the push succeeds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from honk.errors import Conflict, Unauthorized, UserFacingError
from honk.workspace.git import GitError, git, git_env, redact_url

USER_VAR, TOKEN_VAR = "HONK_FORGE_USERNAME", "HONK_FORGE_TOKEN"
# Answers `get` with the variables' values and ignores `store` and `erase`. The shell that git
# starts for the helper expands the variables: only their names are on any command line.
HELPER = (
    '!f() { cat >/dev/null; test "$1" = get || exit 0; '
    f'echo "username=${USER_VAR}"; echo "password=${TOKEN_VAR}"; }}; f'
)

REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "stale info")
AUTH_FAILED = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "returned error: 401",
    "returned error: 403",
)


async def push_branch(
    workspace: Path,
    url: str,
    branch: str,
    token: SecretStr | None,
    *,
    username: str = "x-access-token",
    expect: str | None = None,
) -> str:
    """Pushes the workspace's `branch` to `url` and returns the commit pushed.

    `expect` is the commit Honk last pushed there: given, the push may replace it (Honk rewrote its
    own branch) but not commits someone else added on the forge since; without it, only a new
    branch or a fast-forward goes through.
    """
    commit = await git("rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}", cwd=workspace)
    args = ["push", "--quiet", "--no-verify"]
    if expect is not None:
        args.append(f"--force-with-lease=refs/heads/{branch}:{expect}")
    args += [url, f"{commit}:refs/heads/{branch}"]
    env = git_env()
    if token is not None:
        args = ["-c", "credential.helper=", "-c", f"credential.helper={HELPER}", *args]
        env.update({USER_VAR: username, TOKEN_VAR: token.get_secret_value()})
    try:
        await git(*args, cwd=workspace, env=env, timeout_s=300)
    except GitError as e:
        raise _push_error(e, url, branch) from e
    return commit


def _push_error(e: GitError, url: str, branch: str) -> UserFacingError:
    where, low = redact_url(url), e.stderr.lower()
    if any(s in e.stderr for s in REJECTED):
        return Conflict(
            f"The forge's branch {branch} has commits Honk did not push, so Honk did not overwrite "
            f"it ({where}). Look at the pull request's new commits, then ask Honk again."
        )
    if "archived" in low:  # before the 403 below: the forge says why it refuses, and it is not the token
        return UserFacingError(
            f"The forge refused the push of {branch} to {where}: the repository is archived (read-only). "
            "Unarchive it on the forge, or leave it out."
        )
    if any(s in low for s in AUTH_FAILED):
        return Unauthorized(
            f"The forge refused Honk's credentials when pushing {branch} to {where}: check the "
            "forge token (it needs write access to the repository's contents)."
        )
    last = redact_url((e.stderr.strip().splitlines() or ["no detail"])[-1])
    return UserFacingError(f"Honk could not push {branch} to {where}: {last}")
