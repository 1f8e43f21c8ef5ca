"""The `honk` command: the commands people use to talk to Honk (`honk.cli`), plus those that run it
(`up`, `server`, `worker`) and administer it on the server (`user`, `db`), which build its parts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from honk.cli.main import cli, run
from honk.settings import Settings


def main() -> None:
    run(cli)


def _logging(settings: Settings) -> None:
    from honk.logs import configure

    configure(settings)


# -- running Honk ------------------------------------------------------------------------------
@cli.command()
@click.option("--port", type=int, default=None, help="Web/API port (default 8787).")
@click.option(
    "--host",
    default=None,
    help="The address to listen on (default 127.0.0.1). 0.0.0.0: phones on this LAN too (it prints a QR code).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Default ./.honk")
@click.option("--demo-model", is_flag=True, help="Run Claude Code against the bundled demo model (offline).")
def up(port: int | None, host: str | None, data_dir: Path | None, demo_model: bool) -> None:
    """Run everything on this machine: Temporal dev server, a worker and the web server."""
    from honk.composition.up import lan_settings, run_up

    settings = Settings()
    settings = settings.changed(
        port=port or settings.server.port,
        host=host or settings.server.host,
        data_dir=data_dir or settings.data_dir,
        demo_model=demo_model or settings.claude.demo_model,
    )
    settings = lan_settings(settings)
    raise SystemExit(run_up(settings))


@cli.command()
def server() -> None:
    """Run the web/API server against an existing Temporal and database."""
    import uvicorn

    from honk.composition.server import build_app

    settings = Settings()
    _logging(settings)
    # Honk's logging (format, redaction) for uvicorn's loggers too; its access log stays off.
    uvicorn.run(
        build_app(settings), host=settings.server.host, port=settings.server.port, log_level="warning", log_config=None
    )


@cli.command()
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="A task queue to serve (repeatable; default: HONK_TASK_QUEUE). Only the main queue runs workflows.",
)
def worker(queues: tuple[str, ...]) -> None:
    """Run a worker: it polls Temporal's task queue(s) and does the work."""
    from honk.composition.worker import run_worker

    settings = Settings()
    if queues:
        settings = settings.changed(worker_queues=list(queues))
    _logging(settings)
    asyncio.run(run_worker(settings))


# -- people ------------------------------------------------------------------------------------
@cli.group()
def user() -> None:
    """Accounts (run on the server: it uses Honk's database directly)."""


@user.command("add")
@click.argument("email")
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["requester", "merger", "admin"]), default="requester", show_default=True)
def user_add(email: str, name: str, role: str) -> None:
    """Create an account; prints a one-time sign-in link and an API token."""
    from honk.accounts import Accounts, Role

    async def go(accounts: Accounts, settings: Settings) -> None:
        person = await accounts.add_user(email, name, Role(role))
        click.echo(f"added {person.email} ({person.role.value})")
        click.echo(f"sign-in link (one use, 15 minutes): {await accounts.login_link(person.email, settings.base_url)}")
        click.echo(f"API token (HONK_TOKEN): {await accounts.api_token(person.email)}")

    asyncio.run(_with_accounts(go))


@user.command("link")
@click.argument("email")
@click.option("--slack", "by_slack", is_flag=True, help="Send it as a Slack DM instead of printing it.")
def user_link(email: str, by_slack: bool) -> None:
    """A new one-time sign-in link for an existing account."""
    from honk.accounts import Accounts

    async def go(accounts: Accounts, settings: Settings) -> None:
        link = await accounts.login_link(email, settings.base_url)
        if not by_slack:
            click.echo(link)
            return
        from honk.slack.dm import send_dm

        await send_dm(settings, email, f"Your Honk sign-in link (one use, 15 minutes): {link}")
        click.echo(f"sent {email} a sign-in link on Slack")

    asyncio.run(_with_accounts(go))


async def _with_accounts(work: Callable[..., Awaitable[None]]) -> None:
    from honk.accounts import Accounts, secret_key
    from honk.store import Store

    settings = Settings()
    store = Store(settings.db_url)
    await store.create_schema()
    try:
        await work(Accounts(store, secret_key(settings.secret_key_file)), settings)
    finally:
        await store.close()


# -- the database ------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Honk's database (run where the server runs: it uses the database directly)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to this version's schema.

    The server and workers also do this at start-up; running it first lets a rollout start on a
    migrated database (and shows any problem before the rollout does)."""
    from sqlalchemy import make_url

    from honk.store import Store

    async def go() -> None:
        url = Settings().db_url
        store = Store(url)
        try:
            v = await store.create_schema()
        finally:
            await store.close()
        where = make_url(url).render_as_string(hide_password=True)
        if v.before == v.after:
            click.echo(f"{where}: schema at {v.after}, nothing to do")
        else:
            adopted = " (a database from before migrations, kept in place)" if v.adopted else ""
            click.echo(f"{where}: schema upgraded from {v.before or 'empty'} to {v.after}{adopted}")

    asyncio.run(go())


@db.command("rotate-secrets")
def db_rotate_secrets() -> None:
    """Encrypt every repo secret again under the first key of HONK_SECRETS_KEY.

    To rotate: put a new key first in HONK_SECRETS_KEY (the old one after it) everywhere, run this,
    then drop the old key. Nothing is changed unless every secret decrypts."""
    from honk.errors import UserFacingError
    from honk.store import RepoSecrets, SecretKeys, Store

    async def go() -> None:
        settings = Settings()
        if not settings.secrets_keys():
            raise UserFacingError(
                f"HONK_SECRETS_KEY is not set: repo secrets are under the key in {settings.secrets_key_file}. "
                "To rotate, set HONK_SECRETS_KEY to a new key, a comma, and that file's key, then run this again."
            )
        store = Store(settings.db_url)
        try:
            await store.create_schema()
            keys = SecretKeys(settings.secrets_keys(), settings.secrets_key_file)
            count = await RepoSecrets(store, keys).rotate()
        finally:
            await store.close()
        click.echo(f"{count} repo secret(s) encrypted again under the first key; the others may now be removed")

    asyncio.run(go())


if __name__ == "__main__":
    main()
