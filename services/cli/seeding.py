"""`eaglet seed` (the demo data set) and `eaglet seed registry|finance|standards` (bulk data for
benchmarks), over the registry of seeds in `services/cli/seeds.py`.

The registry is imported when a seeding command runs, not when the command line is parsed: every
process `eaglet up` starts (`eaglet serve …`) then imports only its own app.
"""

from __future__ import annotations

import asyncio
import time

import typer

from services.common.commands import database, fail
from services.common.db import plain_url
from services.common.settings import Settings, get_settings

seed_app = typer.Typer(help="Load demo data, or bulk-generate data for benchmarks")


def demo_data_refused(settings: Settings) -> str | None:
    """Why the demo data set may not be loaded here (None: it may). Its API keys are derived from
    a public string (README prints the admin's), so it belongs to development databases only."""
    if settings.env == "dev":
        return None
    return (
        f"demo data (with its public API keys, an admin's among them) is loaded only with "
        f"EAGLET_ENV=dev; this is EAGLET_ENV={settings.env}. Create real clients with "
        "`eaglet clients create`."
    )


async def seed_demo_data(url: str, force: bool = False) -> list[str]:
    """Load each seed's demo data not loaded yet (all of them with `force`), each in its own
    transaction, in the registry's order; the names of those loaded."""
    import asyncpg

    from services.cli.seeds import SEEDS

    done = []
    conn = await asyncpg.connect(plain_url(url))
    try:
        for seed in SEEDS:
            seeded = await conn.fetchval("SELECT 1 FROM public.eaglet_seeds WHERE name = $1", seed.name)
            if seeded and not force:
                continue
            async with conn.transaction():
                await seed.demo(conn)
                await conn.execute(
                    "INSERT INTO public.eaglet_seeds (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET seeded_at = now()",
                    seed.name,
                )
            done.append(seed.name)
    finally:
        await conn.close()
    return done


@seed_app.callback(invoke_without_command=True)
def seed(ctx: typer.Context, force: bool = typer.Option(False, help="Load demo data again")) -> None:
    """Load the demo data set (once; --force to load again)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    refused = demo_data_refused(settings)
    if refused:
        fail(refused)
    with database(settings) as url:
        done = asyncio.run(seed_demo_data(url, force))
    typer.echo("seeded: " + (", ".join(done) if done else "nothing (already seeded)"))


def _bulk(owner: str, count: int) -> None:
    import asyncpg

    from services.cli.seeds import BY_OWNER

    generate = BY_OWNER[owner].generate

    async def go(url: str) -> None:
        conn = await asyncpg.connect(plain_url(url))
        try:
            started = time.perf_counter()
            await generate(conn, count)
            typer.echo(f"generated {count:,} in {time.perf_counter() - started:.1f} s")
        finally:
            await conn.close()

    with database(get_settings()) as url:
        asyncio.run(go(url))


@seed_app.command("registry")
def seed_registry(
    enterprises: int = typer.Option(..., help="How many enterprises (with indicators)"),
) -> None:
    """Bulk-generate enterprises with two years of indicators (COPY)."""
    _bulk("registry", enterprises)


@seed_app.command("finance")
def seed_finance(loans: int = typer.Option(..., help="How many loans")) -> None:
    """Bulk-generate loans (COPY)."""
    _bulk("finance", loans)


@seed_app.command("standards")
def seed_standards(certificates: int = typer.Option(..., help="How many certificates")) -> None:
    """Bulk-generate certificates (COPY)."""
    _bulk("standards", certificates)
