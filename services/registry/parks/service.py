from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.changes import Change, record_changes
from services.common.conditional import representation, require_match
from services.common.errors import NotFound, Required, unique_conflict
from services.common.scope import RegionScope
from services.registry.enterprises import repository as enterprises
from services.registry.errors import ParkExists
from services.registry.parks import repository as repo
from services.registry.parks.models import Park
from services.registry.parks.schemas import ParkIn, ParkOut, ParkPatch, TenancyIn, TenancyOut

# A name is unique within its region (checked first for a precise message; the constraint decides
# between concurrent registrations).
unique_conflict("uq_parks_region_code_name", ParkExists, "/name", "a park of this name exists in the region")

FIELDS = ("name", "region_code", "address", "opened_on", "star_rating", "rated_on", "national_demo_base")


def to_out(park: Park, tenants: int) -> ParkOut:
    return ParkOut.model_validate(
        {**{c: getattr(park, c) for c in Park.__table__.c.keys()}, "tenants": tenants}
    )


def _snapshot(park: Park) -> dict:
    return {f: getattr(park, f) for f in FIELDS}


async def create(session: AsyncSession, principal: Principal, body: ParkIn) -> ParkOut:
    RegionScope.of(principal).require(body.region_code, "/region_code")
    if await repo.name_taken(session, body.region_code, body.name):
        raise ParkExists(name=body.name, region=body.region_code)
    values = body.model_dump()
    if values.get("national_demo_base") is None:
        values["national_demo_base"] = False
    park = await repo.add(session, Park(**values))
    await record_changes(
        session, "registry", principal, [Change("created", "park", str(park.id), None, values)]
    )
    return to_out(park, 0)


async def get(session: AsyncSession, principal: Principal, park_id: int) -> ParkOut:
    park = await repo.get(session, principal, park_id)
    if park is None:
        raise NotFound(what="park", key=str(park_id))
    return to_out(park, await repo.tenants_now(session, park_id))


async def patch(
    session: AsyncSession, principal: Principal, park_id: int, body: ParkPatch, if_match: str | None = None
) -> ParkOut:
    """`If-Match` is compared with the park as it stands once its row is locked."""
    park = await repo.get(session, principal, park_id, lock=True)
    if park is None:
        raise NotFound(what="park", key=str(park_id))
    if if_match is not None:
        require_match(if_match, representation(to_out(park, await repo.tenants_now(session, park_id))))
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "region_code", "national_demo_base"):
        if required in changes and changes[required] is None:
            raise Required(field=required, how="cleared")
    if "region_code" in changes:
        RegionScope.of(principal).require(changes["region_code"], "/region_code")
    name, region = changes.get("name", park.name), changes.get("region_code", park.region_code)
    if (name, region) != (park.name, park.region_code) and await repo.name_taken(
        session, region, name, park.id
    ):
        raise ParkExists(name=name, region=region)
    before = _snapshot(park)
    for k, v in changes.items():
        setattr(park, k, v)
    await session.flush()
    diff = {k: v for k, v in changes.items() if before[k] != v}
    if diff:
        await record_changes(
            session,
            "registry",
            principal,
            [Change("updated", "park", str(park_id), {k: before[k] for k in diff}, diff)],
        )
    await session.refresh(park)
    return to_out(park, await repo.tenants_now(session, park_id))


async def put_tenant(
    session: AsyncSession, principal: Principal, park_id: int, code: str, body: TenancyIn
) -> tuple[TenancyOut, bool]:
    park = await repo.get(session, principal, park_id)
    if park is None:
        raise NotFound(what="park", key=str(park_id))
    if not await enterprises.exists_visible(session, principal, code):
        raise NotFound(what="enterprise", key=code)
    before = await repo.tenancy(session, park_id, code)
    snapshot = {"moved_in_on": before.moved_in_on, "moved_out_on": before.moved_out_on} if before else None
    await repo.upsert_tenancy(session, park_id, code, body.moved_in_on, body.moved_out_on)
    await record_changes(
        session,
        "registry",
        principal,
        [
            Change(
                "updated" if before else "created",
                "park_tenant",
                f"{park_id}/{code}",
                snapshot,
                body.model_dump(),
            )
        ],
    )
    return TenancyOut(park_id=park_id, credit_code=code, **body.model_dump()), before is None


async def tenants(session, principal, park_id, current, params):
    if await repo.get(session, principal, park_id) is None:
        raise NotFound(what="park", key=str(park_id))
    rows, cursor = await repo.tenants(session, park_id, current, params)
    items = [
        TenancyOut(
            park_id=t.park_id,
            credit_code=t.credit_code,
            name=name,
            moved_in_on=t.moved_in_on,
            moved_out_on=t.moved_out_on,
        )
        for t, name in rows
    ]
    return items, cursor
