"""`python -m services.cli …`: the `eaglet` command (how `eaglet up` starts each process)."""

from services.cli.app import app

app()
