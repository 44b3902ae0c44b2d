"""Settings: EAGLET_ variables, nested groups, and secrets that refuse their dev defaults."""

import pytest
from pydantic import ValidationError

from services.common.settings import Settings


def test_nested_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("EAGLET_FINANCE__PORT", "9102")
    monkeypatch.setenv("EAGLET_DB__POOL_SIZE", "3")
    s = Settings()
    assert s.finance.port == 9102 and s.db.pool_size == 3
    assert s.finance.base_url == "http://127.0.0.1:9102"


def test_database_url_is_also_read_from_plain_DATABASE_URL(monkeypatch):
    monkeypatch.delenv("EAGLET_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert Settings().database_url == "postgresql://u@h/db"


def test_production_refuses_development_secrets(monkeypatch):
    monkeypatch.setenv("EAGLET_ENV", "prod")
    with pytest.raises(ValidationError, match="EAGLET_INTERNAL_KEY"):
        Settings()
    for name in ("INTERNAL_KEY", "CURSOR_KEY", "TOKEN_KEY"):
        monkeypatch.setenv(f"EAGLET_{name}", "a-real-secret-" + name.lower() + "-0123456789abcdef")
    assert Settings().env == "prod"


def test_a_service_url_alone_keeps_the_default_port(monkeypatch):
    monkeypatch.setenv("EAGLET_REGISTRY__URL", "http://registry.internal:80")
    s = Settings()
    assert s.registry.base_url == "http://registry.internal:80" and s.registry.port == 8101


def test_each_process_takes_its_own_database_url_else_the_shared_one(monkeypatch):
    monkeypatch.setenv("EAGLET_DATABASE_URL", "postgresql://owner@h/db")
    for name in ("REGISTRY", "STANDARDS", "GATEWAY", "JOBS"):
        monkeypatch.delenv(f"EAGLET_{name}__DATABASE_URL", raising=False)
    monkeypatch.setenv("EAGLET_FINANCE__DATABASE_URL", "postgresql://eaglet_finance:pw@h/db")
    monkeypatch.setenv("EAGLET_JOBS__DATABASE_URL", "postgresql://eaglet_worker:pw@h/db")
    s = Settings()
    assert s.for_process("finance").database_url == "postgresql://eaglet_finance:pw@h/db"
    assert s.for_process("worker").database_url == "postgresql://eaglet_worker:pw@h/db"
    assert s.for_process("registry").database_url == "postgresql://owner@h/db"
    assert s.for_process("gateway") is s
    assert s.database_url == "postgresql://owner@h/db"  # the owner's, for migrations and the CLI
    assert s.for_process("finance").finance.port == 8102
