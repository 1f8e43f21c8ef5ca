"""Honk's schema migrations (Alembic). `env.py`, `script.py.mako` and `versions/` are Alembic's
script directory; `runner` applies them (`Store.create_schema`, `honk db upgrade`).

A new revision: change the models, then in a Python shell against a database at head,
`alembic.command.revision(runner.config(url=URL), message="…", rev_id="0003", autogenerate=True)`,
and review it; `alembic.command.check(runner.config(url=URL))` says whether models and revisions agree.
"""

from honk.store.migrations.runner import SchemaVersion, head, upgrade

__all__ = ["SchemaVersion", "head", "upgrade"]
