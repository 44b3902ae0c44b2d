"""The `eaglet` command: run the stack, migrate, seed, and (from the gateway) manage clients and tokens.

`app` is the Typer application (the `eaglet` entry point); the modules hold its commands:
`database` (migrate, db-url, refresh-titles), `roles` (db-roles), `seeding` (seed …, over the registry in `seeds`),
`stack` (serve, up), `worker` (the job runner). The gateway's own commands come from `gateway.cli`: this package depends on
it, never the other way round.
"""

from services.cli.app import app
from services.cli.database import ROOT, run_migrations
from services.cli.stack import serve_command

__all__ = ["ROOT", "app", "run_migrations", "serve_command"]
