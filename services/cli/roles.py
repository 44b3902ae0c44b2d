"""`eaglet db-roles`: the login roles of the processes, on any server (the embedded one too).

Migration 0021_roles_grants grants each role what its process needs (and creates a missing role
NOLOGIN, so `eaglet migrate` never waits for this command); this command makes them login roles
with a password. Run it with the database URL of a role that may create roles (a superuser, or
one with CREATEROLE), before or after `eaglet migrate`; run it again at will: it changes nothing
that is already right. Each role's password is the one in that process's own URL
(`EAGLET_FINANCE__DATABASE_URL`, …) when it has one; otherwise a new role, or one that cannot log
in yet, gets a generated password, printed once with the URL to set; an existing login role keeps
its password unless `--rotate`. The server receives only the password's SCRAM-SHA-256 verifier,
never the password itself (nothing in clear in its statement log).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import typer
from sqlalchemy.engine import URL, make_url

from services.common.commands import database, fail
from services.common.db import plain_url
from services.common.settings import Settings, get_settings

# The process → its role (the names migration 0021_roles_grants grants to).
ROLES = {
    "registry": "eaglet_registry",
    "finance": "eaglet_finance",
    "standards": "eaglet_standards",
    "gateway": "eaglet_gateway",
    "worker": "eaglet_worker",
}
# The variable that carries each process's own URL (services/common/settings.py `for_process`).
URL_VARIABLES = {
    "registry": "EAGLET_REGISTRY__DATABASE_URL",
    "finance": "EAGLET_FINANCE__DATABASE_URL",
    "standards": "EAGLET_STANDARDS__DATABASE_URL",
    "gateway": "EAGLET_GATEWAY__DATABASE_URL",
    "worker": "EAGLET_JOBS__DATABASE_URL",
}
SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)
# What a service role must not be: any of these would lift the grants' limits.
ATTRIBUTES = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802, RFC 7677), in the
    form `CREATE ROLE … PASSWORD` takes instead of the password itself. ASCII passwords only:
    PostgreSQL's SASLprep leaves those as they are, so the verifier is the one it would make."""
    if not password.isascii() or not password.isprintable():
        raise ValueError("a role password must be printable ASCII")
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


@dataclass(frozen=True)
class RoleOutcome:
    process: str
    role: str
    action: str  # created | enabled | password set | rotated | unchanged
    password: str | None  # set now and not taken from the process's URL: shown once
    warnings: tuple[str, ...] = ()


def verifies(verifier: str, password: str) -> bool:
    """Whether a stored SCRAM-SHA-256 verifier is `password`'s."""
    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$[^:]+:.+", verifier or "")
    if m is None or not password.isascii():
        return False
    made = scram_verifier(password, salt=base64.b64decode(m[2]), iterations=int(m[1]))
    return hmac.compare_digest(made, verifier)


async def _holds(conn, role: str, password: str) -> bool:
    """Whether `role`'s password is `password` already (readable by a superuser only: otherwise
    False, and the password is set again)."""
    import asyncpg

    try:
        stored = await conn.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", role)
    except asyncpg.InsufficientPrivilegeError:
        return False
    return verifies(stored, password)


def given_password(settings: Settings, process: str) -> str | None:
    """The password of `process`'s own URL, refusing a URL that logs in as another role."""
    url = settings.process_database_url(process)
    if not url:
        return None
    u = make_url(url)
    if u.username and u.username != ROLES[process]:
        raise ValueError(
            f"{URL_VARIABLES[process]} logs in as {u.username!r}; the {process} role is {ROLES[process]!r}"
        )
    return u.password or None


async def ensure_roles(admin_url: str, settings: Settings, *, rotate: bool = False) -> list[RoleOutcome]:
    """Create or enable every process's login role on the server at `admin_url`, idempotently."""
    import asyncpg

    given = {p: given_password(settings, p) for p in ROLES}
    conn = await asyncpg.connect(plain_url(admin_url))
    out: list[RoleOutcome] = []
    try:
        for process, role in ROLES.items():
            row = await conn.fetchrow(
                "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
                "FROM pg_roles WHERE rolname = $1",
                role,
            )
            password = given[process]
            if row is None:
                action = "created"
            elif password is not None and row["rolcanlogin"] and await _holds(conn, role, password):
                action = "unchanged"
            elif password is not None:
                action = "password set" if row["rolcanlogin"] else "enabled"
            elif not row["rolcanlogin"]:
                action = "enabled"
            elif rotate:
                action = "rotated"
            else:
                action = "unchanged"
            shown = None
            if action != "unchanged" and password is None:
                password = shown = secrets.token_urlsafe(24)
            if action != "unchanged":
                verb = "CREATE ROLE %I LOGIN " + ATTRIBUTES if action == "created" else "ALTER ROLE %I LOGIN"
                sql = await conn.fetchval(
                    "SELECT format($1, $2::text, $3::text)",
                    verb + " PASSWORD %L",
                    role,
                    scram_verifier(password),
                )
                await conn.execute(sql)
            warnings = ()
            if row is not None:
                lifted = [a for a in ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb") if row[a]]
                if lifted:
                    warnings = (
                        f"{role} has {', '.join(a.removeprefix('rol').upper() for a in lifted)}: the grants "
                        f"do not bind it (ALTER ROLE {role} {ATTRIBUTES})",
                    )
            out.append(RoleOutcome(process, role, action, shown, warnings))
    finally:
        await conn.close()
    return out


def role_url(admin_url: str, role: str, password: str | None) -> str:
    """`admin_url` logging in as `role` with `password` (None: none; never the admin's), on the
    same server and database with the same options."""
    u = make_url(plain_url(admin_url))
    u = URL.create(u.drivername, role, password, u.host, u.port, u.database, u.query)
    return u.render_as_string(hide_password=False)


def db_roles(
    rotate: bool = typer.Option(False, help="Give every login role a new generated password (printed once)"),
) -> None:
    """Create the processes' login roles (eaglet_registry, eaglet_finance, eaglet_standards,
    eaglet_gateway, eaglet_worker) on the server of EAGLET_DATABASE_URL (else the embedded one),
    with the passwords of their own URLs or generated ones, printed once. Idempotent."""
    settings = get_settings()
    try:
        for p in ROLES:
            given_password(settings, p)
    except ValueError as e:
        fail(str(e))
    with database(settings) as url:
        try:
            outcomes = asyncio.run(ensure_roles(url, settings, rotate=rotate))
        except ValueError as e:
            fail(str(e))
        except Exception as e:  # noqa: BLE001 - the server's refusal (no CREATEROLE…), as one line
            fail(f"could not create the roles: {e}")
        for o in outcomes:
            typer.echo(f"{o.role:<17} {o.action}")
            for w in o.warnings:
                typer.secho(f"  warning: {w}", fg=typer.colors.YELLOW, err=True)
        shown = [o for o in outcomes if o.password is not None]
        if shown:
            typer.echo("\nnew passwords (shown once): set these URLs for the processes")
            for o in shown:
                typer.echo(f"{URL_VARIABLES[o.process]}={role_url(url, o.role, o.password)}")
        if not settings.database_url:
            typer.echo("\n(the embedded server trusts its local socket: it does not ask for these passwords)")
