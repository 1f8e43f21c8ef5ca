"""What is wrong with how forge webhooks are set up, one line each: `honk doctor` prints these and exits 1
when there are any, and the server logs them at start-up. Pure: Settings in, lines out; no secret is ever
in a line (only the names of the settings)."""

from __future__ import annotations

from urllib.parse import urlsplit

from honk.settings import Settings

MIN_SECRET = 16  # a webhook secret is all that tells a forge from anyone who can reach the server
LOOPBACK = ("localhost", "127.0.0.1", "::1")
DOC = "docs/forge-hooks.md"


def problems(settings: Settings) -> list[str]:
    forges, hooks = settings.forges, settings.hooks
    github_secret = hooks.github_webhook_secret.get_secret_value() if hooks.github_webhook_secret else ""
    gitlab_token = hooks.gitlab_webhook_token.get_secret_value() if hooks.gitlab_webhook_token else ""
    found: list[str] = []
    if (forges.github_token or forges.github_app_id) and not github_secret:
        found.append(
            "GitHub is configured (a token or an App) but HONK_GITHUB_WEBHOOK_SECRET is not: Honk cannot hear "
            f"mentions, reviews or failing checks on GitHub. Set it, and the same secret on the webhook ({DOC})."
        )
    if forges.gitlab_token and not gitlab_token:
        found.append(
            "GitLab is configured (a token) but HONK_GITLAB_WEBHOOK_TOKEN is not: Honk cannot hear mentions or "
            f"failing pipelines on GitLab. Set it, and the same secret token on the webhook ({DOC})."
        )
    for name, value in (("HONK_GITHUB_WEBHOOK_SECRET", github_secret), ("HONK_GITLAB_WEBHOOK_TOKEN", gitlab_token)):
        if value and len(value) < MIN_SECRET:
            found.append(
                f"{name} is shorter than {MIN_SECRET} characters: whoever guesses it can speak for the forge. "
                "Use a random one (`openssl rand -hex 32`)."
            )
    tokens = [t.get_secret_value() for t in (forges.github_token, forges.gitlab_token) if t]
    for name, value in (("HONK_GITHUB_WEBHOOK_SECRET", github_secret), ("HONK_GITLAB_WEBHOOK_TOKEN", gitlab_token)):
        if value and value in tokens:
            found.append(f"{name} is a forge API token: a webhook's secret is shown to repo admins; use its own.")
    if (github_secret or gitlab_token) and (urlsplit(settings.base_url).hostname or "") in LOOPBACK:
        found.append(
            f"Webhooks are enabled but Honk's public URL is {settings.base_url}, which no forge can reach: "
            "set HONK_PUBLIC_URL to the address the forge posts to."
        )
    return found
