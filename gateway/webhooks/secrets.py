"""Signing secrets: made, kept encrypted, and used to sign each delivery (Standard Webhooks).

A secret is `whsec_` + base64 of 32 random bytes, shown to its owner once. It has to be read back
to sign, so it cannot be stored as a hash like an API key: it is sealed with AES-GCM under a key
derived from `EAGLET_WEBHOOKS__SECRETS_KEY` (else from `EAGLET_INTERNAL_KEY`), bound to its
endpoint (a sealed secret copied to another endpoint's row does not open). A database dump alone
does not let anyone sign as eaglet.

Signatures are the `standardwebhooks` package's: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
one per secret still valid, space separated (during a rotation the old and the new secret both
sign, so a receiver verifying with either accepts).
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from standardwebhooks import Webhook

from services.common.settings import Settings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
_NONCE = 12
_INFO = b"eaglet webhook signing secrets v1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _aead(configured: SecretStr) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        configured.get_secret_value().encode()
    )
    return AESGCM(key)


class SecretBox:
    """Seals endpoint secrets with the process's key; opens them with it or, during a rotation,
    with the key being retired (`EAGLET_WEBHOOKS__SECRETS_KEY_PREVIOUS`)."""

    def __init__(self, settings: Settings) -> None:
        configured = settings.webhooks.secrets_key or settings.internal_key
        previous = settings.webhooks.secrets_key_previous
        self._aead = _aead(configured)
        self._opening = (self._aead, *([_aead(previous)] if previous is not None else []))

    def seal(self, endpoint_id: uuid.UUID, secret: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode(), endpoint_id.bytes)

    def open(self, endpoint_id: uuid.UUID, sealed: bytes) -> str:
        """The secret, or ValueError when it was sealed under another key or for another endpoint."""
        for aead in self._opening:
            try:
                return aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], endpoint_id.bytes).decode()
            except Exception:  # noqa: BLE001, S112 - another key, or not ours: the next, then refused
                continue
        raise ValueError("the signing secret cannot be opened with this key")


def signature_headers(msg_id: str, at: datetime, body: str, secrets_: Iterable[str]) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt, signed with every secret given."""
    at = at.astimezone(UTC)  # the package reads the time as UTC whatever its zone
    signatures = [Webhook(s).sign(msg_id, at, body) for s in secrets_]
    if not signatures:
        raise ValueError("no signing secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
