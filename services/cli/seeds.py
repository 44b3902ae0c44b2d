"""Every data set the `eaglet` command loads, by owner: an explicit registry with plain imports.

A seed module that cannot be imported stops the command that needs it with its error: no data set
is left out quietly. The order is the loading order of the demo data on the first `eaglet up`:
the registry first (finance and standards read its demo enterprises from
`registry.enterprise_directory`), the gateway's demo clients last.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

import asyncpg

import gateway.seed
import services.finance.seed
import services.registry.seed
import services.standards.seed


@dataclass(frozen=True)
class Seed:
    owner: str  # registry | finance | standards | gateway
    name: str  # the module's name, recorded in public.eaglet_seeds once its demo data is loaded
    demo: Callable[[asyncpg.Connection], Awaitable[None]]
    # Bulk generation for benchmarks (`eaglet seed <owner> --… N`), where the owner has one.
    generate: Callable[[asyncpg.Connection, int], Awaitable[None]] | None


def _seed(owner: str, module: ModuleType) -> Seed:
    return Seed(owner, module.__name__, module.seed_demo, getattr(module, "generate", None))


SEEDS: tuple[Seed, ...] = (
    _seed("registry", services.registry.seed),
    _seed("finance", services.finance.seed),
    _seed("standards", services.standards.seed),
    _seed("gateway", gateway.seed),
)
BY_OWNER = {s.owner: s for s in SEEDS}


def demo_credentials() -> list[str]:
    """The demo clients' keys, as `eaglet up` prints them."""
    return list(gateway.seed.demo_credentials())
