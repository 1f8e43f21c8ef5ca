"""`honk doctor`: what is wrong with this machine's Honk settings, one line each, and exit 1 when anything
is. Read where Honk runs (the server's environment and honk.toml), not through the API."""

from __future__ import annotations

import click
from pydantic import ValidationError

from honk.errors import UserFacingError
from honk.hooks.setup_check import problems
from honk.settings import Settings


@click.command()
def doctor() -> None:
    """Check Honk's settings (forge webhooks, for now): one line per problem; exit 1 when there are any."""
    try:
        found = problems(Settings())
    except ValidationError as e:
        found = [f"setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
    for line in found:
        click.echo(f"honk doctor: {line}")
    if found:
        raise UserFacingError(f"{len(found)} problem{'s' if len(found) > 1 else ''} found")
    click.echo("honk doctor: no problems found")
