from __future__ import annotations

from pydantic import ConfigDict

from services.registry.enterprises.schemas import ExportQuery


class ExportIn(ExportQuery):
    """The export's file format and the list's filters, as JSON: the same names and values as the
    query string of `GET /v1/enterprises/export`."""

    model_config = ConfigDict(extra="forbid")
