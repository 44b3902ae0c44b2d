"""`GET /v1/events`: a service's change feed over HTTP (the core: `events.py`).

One router per service, built here so that the three feeds take the same parameters, answer the
same problems and write the same envelope: `{"items": [...], "next_cursor": "…", "has_more": …}`
— the lists' envelope, except that `next_cursor` is never null (a feed has no last page: follow
it later for what was written since).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from services.common.auth import CurrentPrincipal
from services.common.errors import CursorExpired, InvalidCursor, UnknownEventType, responses
from services.common.events import DEFAULT_LIMIT, EVENT_TYPES, MAX_LIMIT, read_events
from services.common.http import json_data_response
from services.common.readpool import CallerReads
from services.common.types import text

# Generous for every type of a feed named once, written out: a longer list is no feed's.
TYPES_MAX_LENGTH = 2000


class EventSubject(BaseModel):
    type: str = Field(examples=["loan"])
    key: str = Field(examples=["NBCB/L-2022-00012"], description="The record's key in its change log")


class EventOut(BaseModel):
    id: str = Field(examples=["evt_finance_123"], description="Stable: the same event has the same id")
    type: str = Field(examples=["loan.created"])
    occurred_at: datetime = Field(description="When the writing transaction began")
    subject: EventSubject
    data: dict[str, Any] = Field(description="The type's documented fields (docs/events.md), nothing more")
    links: dict[str, str] = Field(
        examples=[{"self": "/finance/v1/lenders/NBCB/loans/L-2022-00012"}],
        description="Gateway paths to the record",
    )


class EventPageOut(BaseModel):
    items: list[EventOut] = Field(json_schema_extra={"maxItems": MAX_LIMIT})
    next_cursor: str = Field(description="Send as `after` to read on; valid for this feed and this caller")
    has_more: bool = Field(description="false: caught up; wait before reading on")


def parse_types(values: list[str] | None) -> frozenset[str] | None:
    """`types=a,b` and `types=a&types=b` alike; None when not sent."""
    if values is None:
        return None
    return frozenset(t.strip() for v in values for t in v.split(","))


def events_router(service: str) -> APIRouter:
    known = ", ".join(f"`{t}`" for t in sorted(EVENT_TYPES[service]))
    router = APIRouter(tags=["events"])

    @router.get(
        "/v1/events",
        operation_id="list_events",
        summary=f"The {service} change feed: your events since a cursor, in commit order",
        description=(
            "Thin events of the records you may read (the lists' scope), oldest first. Without "
            "`after`, from the start of the feed's horizon (`EAGLET_EVENTS__RETENTION_DAYS`, 30 "
            "days); then send each page's `next_cursor` as `after`. A page examines a bounded "
            "number of changes, so it may hold fewer than `limit` events, or none, with "
            f"`has_more: true`: read on at once. Types: {known}. Catalogue and `data` fields: "
            "docs/events.md."
        ),
        response_model=EventPageOut,
        responses=responses(InvalidCursor, CursorExpired, UnknownEventType),
    )
    async def list_events(
        request: Request,
        principal: CurrentPrincipal,
        reads: CallerReads,
        after: Annotated[
            text(StringConstraints(max_length=512)) | None,
            Query(description="The previous page's next_cursor (opaque; this feed and caller only)"),
        ] = None,
        types: Annotated[
            list[text(StringConstraints(max_length=TYPES_MAX_LENGTH))] | None,
            Query(description="Only these event types, comma separated (or the parameter repeated)"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_LIMIT, description="Events per page (max 500)")
        ] = DEFAULT_LIMIT,
    ) -> Response:
        async with reads.connection() as conn:
            page = await read_events(
                conn,
                service,
                principal,
                after,
                parse_types(types),
                limit,
                settings=request.app.state.settings,
            )
        return json_data_response(page.as_json())

    return router
