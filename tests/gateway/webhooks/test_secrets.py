"""Sealing endpoint secrets (gateway/webhooks/secrets.py) and rotating the sealing key: the key
being retired still opens, `reseal_secrets` moves every stored secret to the new key."""

import uuid

import pytest
from pydantic import SecretStr

from gateway.webhooks.secrets import SecretBox, new_secret
from gateway.webhooks.service import reseal_secrets
from tests.gateway.webhooks.conftest import webhook_settings

OLD = SecretStr("the-old-sealing-key-0123456789abcdef")
NEW = SecretStr("the-new-sealing-key-0123456789abcdef")


def test_a_secret_opens_only_for_its_endpoint_and_key():
    box = SecretBox(webhook_settings(secrets_key=OLD))
    endpoint, secret = uuid.uuid4(), new_secret()
    sealed = box.seal(endpoint, secret)
    assert box.open(endpoint, sealed) == secret
    with pytest.raises(ValueError):
        box.open(uuid.uuid4(), sealed)  # copied to another endpoint's row
    with pytest.raises(ValueError):
        SecretBox(webhook_settings(secrets_key=NEW)).open(endpoint, sealed)


def test_during_a_rotation_the_retired_key_still_opens_and_never_seals():
    endpoint, secret = uuid.uuid4(), new_secret()
    sealed_old = SecretBox(webhook_settings(secrets_key=OLD)).seal(endpoint, secret)
    rotating = SecretBox(webhook_settings(secrets_key=NEW, secrets_key_previous=OLD))
    assert rotating.open(endpoint, sealed_old) == secret
    sealed_new = rotating.seal(endpoint, secret)
    assert SecretBox(webhook_settings(secrets_key=NEW)).open(endpoint, sealed_new) == secret


async def test_reseal_moves_every_secret_to_the_new_key(db, gw_sessionmaker):
    endpoint = uuid.uuid4()
    secrets = [new_secret(), new_secret()]
    old_box = SecretBox(webhook_settings(secrets_key=OLD))
    await db.execute(
        "INSERT INTO gateway.webhook_endpoints (id, owner_sub, owner_kind, url, event_types, enabled) "
        "VALUES ($1, 'client:x', 'bank', 'https://hooks.example.com/x', ARRAY['loan.created'], true)",
        endpoint,
    )
    for s in secrets:
        await db.execute(
            "INSERT INTO gateway.webhook_secrets (id, endpoint_id, sealed) VALUES ($1, $2, $3)",
            uuid.uuid4(),
            endpoint,
            old_box.seal(endpoint, s),
        )
    await db.execute(
        "INSERT INTO gateway.webhook_secrets (id, endpoint_id, sealed) VALUES ($1, $2, $3)",
        uuid.uuid4(),
        endpoint,
        b"\0" * 40,  # opens with neither key: left for its owner to rotate
    )
    rotating = webhook_settings(secrets_key=NEW, secrets_key_previous=OLD)
    async with gw_sessionmaker() as session:
        assert await reseal_secrets(session, rotating) == (2, 1)
        await session.commit()
    new_only = SecretBox(webhook_settings(secrets_key=NEW))
    opened = []
    for sealed in await db.fetch("SELECT sealed FROM gateway.webhook_secrets"):
        try:
            opened.append(new_only.open(endpoint, sealed["sealed"]))
        except ValueError:
            opened.append(None)
    assert sorted(opened, key=str) == sorted([*secrets, None], key=str)
