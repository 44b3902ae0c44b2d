"""What every `eaglet` subcommand shares, whichever package defines it: the database it runs
against and how it refuses."""

from __future__ import annotations

from contextlib import contextmanager

import typer

from services.common.settings import Settings


def fail(message: str) -> None:
    """Refuse with one red line on stderr and exit status 1."""
    typer.secho(f"eaglet: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@contextmanager
def database(settings: Settings):
    """Yield a database URL: DATABASE_URL when set, else the embedded server under data_dir.

    The embedded server is stopped on exit unless another eaglet process (e.g. `eaglet up`) uses it.
    """
    if settings.database_url:
        yield settings.database_url
        return
    from services.common.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(settings.data_dir / "pgdata")
    try:
        yield pg.ensure_database("eaglet")
    finally:
        pg.stop()
