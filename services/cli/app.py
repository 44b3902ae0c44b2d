"""The `eaglet` Typer application: every command, registered in the order `--help` lists them."""

from __future__ import annotations

import typer

import gateway.cli
from services.cli import database, roles, seeding, stack, worker

app = typer.Typer(
    help="eaglet — backend of the 雏鹰行动 SME cultivation platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(seeding.seed_app, name="seed")
app.command("db-url")(database.db_url)
app.command()(database.migrate)
app.command("db-roles")(roles.db_roles)
app.command("refresh-titles")(database.refresh_titles)
app.command()(stack.serve)
app.command()(stack.up)
app.command()(worker.worker)
gateway.cli.register(app)  # `clients …` and `token`, which live with their owner
