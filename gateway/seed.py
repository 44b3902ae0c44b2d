"""Demo API clients for development: deterministic keys, so `make run` can print them every start.

The keys derive from a fixed string: they are public knowledge and only for a dev stack. Outside
EAGLET_ENV=dev they are not created (`seed_demo` refuses), not printed (`demo_credentials`), and
not accepted by the gateway (any key starting `egk_demo_`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import asyncpg

from gateway.auth import DEMO_KEY_PREFIX, hash_key, key_display_prefix
from services.common.settings import get_settings

# kind, org, region, name — org codes are the institution codes the finance and standards demo
# data use, so each demo key sees that institution's demo records.
DEMO_CLIENTS = [
    ("admin", None, None, "eaglet admin console (demo)"),
    ("bank", "ICBC-ZJ", None, "中国工商银行浙江省分行 (demo)"),
    ("bank", "ZJRCU", None, "浙江农商联合银行 (demo)"),
    ("guarantor", "ZJGC", None, "浙江省融资担保有限公司 (demo)"),
    ("certifier", "CQC", None, "中国质量认证中心 (demo)"),
    ("official", None, "330000", "浙江省经信厅 (demo)"),
    ("official", None, "330100", "杭州市经信局 (demo)"),
    ("official", None, "330106", "西湖区经信局 (demo)"),
]
_NS = uuid.UUID("6f1d6b1e-3c1a-4a55-9d0f-0e6a9a1e2a10")


def demo_key(kind: str, org: str | None, region: str | None) -> str:
    digest = hashlib.sha256(f"eaglet-demo-key:{kind}:{org or ''}:{region or ''}".encode()).digest()
    return DEMO_KEY_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def _ids(kind: str, org: str | None, region: str | None) -> tuple[uuid.UUID, uuid.UUID]:
    name = f"{kind}:{org or ''}:{region or ''}"
    return uuid.uuid5(_NS, "client:" + name), uuid.uuid5(_NS, "key:" + name)


async def seed_demo(conn: asyncpg.Connection) -> None:
    env = get_settings().env
    if env != "dev":  # `eaglet seed` and `eaglet up` refuse first; this is the last line
        raise RuntimeError(
            f"demo API clients are created only with EAGLET_ENV=dev (this is EAGLET_ENV={env})"
        )
    clients, keys, changes = [], [], []
    for kind, org, region, name in DEMO_CLIENTS:
        client_id, key_id = _ids(kind, org, region)
        key = demo_key(kind, org, region)
        clients.append((client_id, kind, org, name, region))
        keys.append((key_id, client_id, key_display_prefix(key), hash_key(key)))
        after = {"id": str(client_id), "kind": kind, "org": org, "name": name, "region": region, "demo": True}
        changes.append((str(client_id), json.dumps(after, ensure_ascii=False)))
    await conn.executemany(
        """INSERT INTO gateway.api_clients (id, kind, org, name, region, created_by)
           VALUES ($1, $2, $3, $4, $5, 'seed') ON CONFLICT (id) DO NOTHING""",
        clients,
    )
    await conn.executemany(
        """INSERT INTO gateway.api_keys (id, client_id, prefix, key_hash)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        keys,
    )
    await conn.executemany(
        """INSERT INTO gateway.changes (actor_subject, actor_kind, action, entity_type, entity_key, after)
           VALUES ('seed', 'admin', 'created', 'api_client', $1, $2::jsonb)""",
        changes,
    )


def demo_credentials() -> list[str]:
    if get_settings().env != "dev":
        return []
    lines = []
    for kind, org, region, _name in DEMO_CLIENTS:
        who = org or region or "-"
        lines.append(f"{kind:<10} {who:<10} key {demo_key(kind, org, region)}")
    return lines
