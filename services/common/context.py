"""Per-request context shared by logs, errors and the principal passed downstream."""

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
client_id_var: ContextVar[str | None] = ContextVar("client_id", default=None)
