"""`eaglet clients …` (create, list, revoke, rotate) and `eaglet token` (dev person tokens).

`register(app)` adds them to the `eaglet` command (services/cli/), which depends on this module;
this module depends only on the kit."""

from __future__ import annotations

import asyncio
import getpass
import json
import uuid
from decimal import Decimal

import typer
from pydantic import ValidationError

from services.common.auth import Principal
from services.common.commands import database, fail


def _actor() -> Principal:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return Principal(sub=f"cli:{user}", kind="admin")


def _run(work):
    """Run `work(session)` in one transaction against the configured (or embedded) database."""
    from services.common.db import create_engine, create_sessionmaker
    from services.common.settings import get_settings

    settings = get_settings()

    async def go(url: str):
        s = settings.model_copy(
            update={"database_url": url, "db": settings.db.model_copy(update={"pool": "null"})}
        )
        engine = create_engine(s, "eaglet-cli")
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    with database(settings) as url:
        return asyncio.run(go(url))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a client id (a UUID; see `eaglet clients list`)")
        raise


def register(app: typer.Typer) -> None:
    clients = typer.Typer(
        help="API clients of the gateway (keys are shown once, stored as hashes)", no_args_is_help=True
    )
    app.add_typer(clients, name="clients")

    @clients.command("create")
    def create(
        kind: str = typer.Option(..., help="bank | guarantor | certifier | official | admin"),
        org: str = typer.Option(None, help="Institution / certification body code"),
        name: str = typer.Option(..., help="Human-readable name"),
        region: str = typer.Option(None, help="Region code (officials), e.g. 330106"),
        scopes: list[str] = typer.Option(None, "--scopes", help="Restrict, e.g. --scopes finance:write"),
        rate: float = typer.Option(None, help="Own rate limit in requests/s (default: the kind's)"),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON object (id, key, …)"),
    ) -> None:
        """Create an API client and print its key (only this once)."""
        from gateway.clients.schemas import ClientCreate
        from gateway.clients.service import create_client

        try:
            data = ClientCreate(
                kind=kind,
                org=org,
                name=name,
                region=region,
                scopes=list(scopes or []),
                rate_per_s=Decimal(str(rate)) if rate is not None else None,
            )
        except ValidationError as e:
            fail(
                "; ".join(f"{'/'.join(map(str, err['loc'])) or 'client'}: {err['msg']}" for err in e.errors())
            )
        created = _run(lambda session: create_client(session, _actor(), data))
        if as_json:
            typer.echo(created.model_dump_json())
            return
        typer.echo(f"client {created.id} ({created.kind} {created.org or created.region or ''}) created")
        typer.echo(f"key: {created.key}")
        typer.echo("Store the key now: it is not shown again.")

    @clients.command("list")
    def list_(
        kind: str = typer.Option(None, help="Only this kind"),
        include_revoked: bool = typer.Option(False, help="Also revoked clients"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List clients with their keys' prefixes and last use."""
        from gateway.clients.service import list_clients
        from services.common.pagination import PageParams, cursor_binding

        async def work(session):
            out, cursor = [], None
            binding = cursor_binding("cli.clients_list", None, [kind, include_revoked])
            while True:
                page = PageParams(limit=500, cursor=cursor, binding=binding)
                items, cursor = await list_clients(session, page, kind, None, include_revoked)
                out.extend(items)
                if not cursor:
                    return out

        items = _run(work)
        if as_json:
            typer.echo(json.dumps([json.loads(i.model_dump_json()) for i in items], ensure_ascii=False))
            return
        for c in items:
            active = [k for k in c.keys if k.active]
            last = max((k.last_used_at for k in c.keys if k.last_used_at), default=None)
            state = "revoked" if c.revoked_at else f"{len(active)} active key(s)"
            typer.echo(
                f"{c.id}  {c.kind:<9} {c.org or c.region or '-':<10} {c.name}  [{state}; "
                f"keys {', '.join(k.prefix + '…' for k in active) or '-'}; last used {last or 'never'}]"
            )

    @clients.command("revoke")
    def revoke(client_id: str = typer.Argument(..., help="Client id")) -> None:
        """Revoke a client and all its keys (running gateways refuse them at once)."""
        from gateway.clients.service import revoke_client
        from services.common.errors import Problem

        cid = _uuid(client_id)
        try:
            out = _run(lambda session: revoke_client(session, _actor(), cid))
        except Problem as p:
            fail(p.detail or p.code)
        typer.echo(f"client {out.id} revoked at {out.revoked_at.isoformat()}")

    @clients.command("rotate")
    def rotate(
        client_id: str = typer.Argument(..., help="Client id"),
        grace_hours: float = typer.Option(24, help="Old keys stay valid this long (0: at once)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Issue a new key; the client's other keys expire after the grace period."""
        from gateway.clients.service import rotate_key
        from services.common.errors import Problem

        cid = _uuid(client_id)
        try:
            out = _run(lambda session: rotate_key(session, _actor(), cid, grace_hours))
        except Problem as p:
            fail(p.detail or p.code)
        if as_json:
            typer.echo(out.model_dump_json())
            return
        typer.echo(f"new key: {out.key}")
        typer.echo(f"previous keys expire at {out.previous_keys_expire_at.isoformat()}")

    @app.command("token")
    def token(
        kind: str = typer.Option(..., help="official | admin | bank | guarantor | certifier"),
        sub: str = typer.Option(..., help="Subject (the person)"),
        region: str = typer.Option(None, help="Region code (officials)"),
        org: str = typer.Option(None, help="Org code"),
        scopes: list[str] = typer.Option(None, "--scopes"),
        ttl_hours: float = typer.Option(8, help="Lifetime in hours"),
    ) -> None:
        """Mint a development person token (HS256, token_key); the gateway accepts it in dev only."""
        from gateway.auth import mint_dev_token
        from services.common.auth import principal_problem
        from services.common.settings import get_settings

        problem = principal_problem(kind, org, region, list(scopes or []))
        if problem is not None:
            fail(f"--{problem[0]} {problem[1]}")
        settings = get_settings()
        if settings.env != "dev":
            typer.secho(
                "note: gateways accept dev tokens only with EAGLET_ENV=dev or EAGLET_OIDC__ACCEPT_DEV_TOKENS=true",
                err=True,
            )
        typer.echo(
            mint_dev_token(
                settings,
                kind=kind,
                sub=sub,
                region=region,
                org=org,
                scopes=list(scopes or []),
                ttl_s=int(ttl_hours * 3600),
            )
        )

    webhooks = typer.Typer(help="Webhook endpoints' signing secrets", no_args_is_help=True)
    app.add_typer(webhooks, name="webhooks")

    @webhooks.command("reseal")
    def reseal() -> None:
        """Seal every stored signing secret under EAGLET_WEBHOOKS__SECRETS_KEY, opening each with it
        or EAGLET_WEBHOOKS__SECRETS_KEY_PREVIOUS: the last step of a rotation of that key."""
        from gateway.webhooks.service import reseal_secrets
        from services.common.settings import get_settings

        settings = get_settings()
        resealed, unreadable = _run(lambda session: reseal_secrets(session, settings))
        typer.echo(f"resealed {resealed} signing secrets")
        if unreadable:
            typer.secho(
                f"{unreadable} could be opened with neither key: their owners must rotate them "
                "(POST /v1/webhooks/{id}/rotate-secret)",
                fg=typer.colors.YELLOW,
                err=True,
            )
