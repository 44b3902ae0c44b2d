"""The kit's text rule (services/common/types.py) and its reach: every string a request carries,
in every route of the four apps, goes through it."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.common.batch import BatchBody
from services.common.types import (
    TEXT_CONTROL_CHARACTER,
    TEXT_INVALID_UNICODE,
    CreditCode,
    MultilineText,
    RegionCode,
    Text,
    text_problem,
)
from services.finance.applications.schemas import ApplicationIn
from services.finance.book.schemas import LoanBookReportIn
from services.finance.guarantees.schemas import GuaranteeIn
from services.finance.lines.schemas import CreditLineIn
from services.finance.loans.schemas import LoanIn
from services.registry.enterprises.schemas import EnterpriseCreate
from services.standards.certifications.schemas import CertificateRecord
from tests.support import SERVICE_FACTORIES, create_gateway


def problem(type_, value):
    try:
        TypeAdapter(type_).validate_python(value)
    except ValidationError as e:
        return e.errors()[0]["type"]
    return None


@pytest.mark.parametrize(
    "value",
    [
        "杭州西湖科技有限公司",
        "ACME Ltd. (Zhejiang) #2",
        "\u3000全角空格",
        "a\u00a0b",
        "👩\u200d🔬",
        "Ｔ／ＺＺＢ",
    ],
)
def test_ordinary_text_passes(value):
    assert TypeAdapter(Text).validate_python(value) == value


@pytest.mark.parametrize(
    "value, code",
    [
        ("a\x00b", TEXT_CONTROL_CHARACTER),  # NUL: PostgreSQL text cannot hold it
        ("a\x1bb", TEXT_CONTROL_CHARACTER),
        ("a\x7fb", TEXT_CONTROL_CHARACTER),
        ("a\x85b", TEXT_CONTROL_CHARACTER),  # C1 (NEL)
        ("a\tb", TEXT_CONTROL_CHARACTER),
        ("line\n", TEXT_CONTROL_CHARACTER),
        ("a\r\nb", TEXT_CONTROL_CHARACTER),
        ("a\u2028b", TEXT_CONTROL_CHARACTER),
        ("evil\u202egnp.exe", TEXT_CONTROL_CHARACTER),  # right-to-left override
        ("\ufeff杭州", TEXT_CONTROL_CHARACTER),  # a byte-order mark from a file
        ("a\ud800b", TEXT_INVALID_UNICODE),  # what JSON "\ud800" decodes to
        ("a\udfffb", TEXT_INVALID_UNICODE),
        ("a\uffffb", TEXT_INVALID_UNICODE),
        ("a\U0010fffeb", TEXT_INVALID_UNICODE),
    ],
)
def test_a_single_line_field_refuses_controls_separators_and_broken_unicode(value, code):
    assert problem(Text, value) == code


def test_a_multi_line_field_takes_tab_line_feed_and_cr_lf_only():
    assert (
        TypeAdapter(MultilineText).validate_python("一、\t范围\r\n二、生产\n") == "一、\t范围\r\n二、生产\n"
    )
    for value in ("a\rb", "a\x00b", "a\x0bb", "a\x0cb", "a\u2029b", "a\ud800"):
        assert problem(MultilineText, value) is not None, repr(value)


def test_the_message_names_the_character_and_its_position_not_the_value():
    code, message = text_problem("ab\x00secret")
    assert code == TEXT_CONTROL_CHARACTER
    assert "U+0000" in message and "character 3" in message and "secret" not in message
    assert "lone surrogate" in text_problem("\ud83d")[1]
    assert "single line" in text_problem("a\nb")[1]


def test_constrained_types_answer_the_text_rule_before_their_own():
    """A pattern or checksum type built on the text type reports the same code, not a mismatch."""
    assert problem(RegionCode, "3301\x0006") == TEXT_CONTROL_CHARACTER
    assert problem(RegionCode, "3301") == "string_pattern_mismatch"
    assert problem(CreditCode, "91330000733796106\x00") == TEXT_CONTROL_CHARACTER
    assert problem(CreditCode, "91330000733796106\ud800") == TEXT_INVALID_UNICODE


# ---- every string of every route ------------------------------------------------------------

HOSTILE = "a\x00b"
# The records of each batch route: `BatchBody` takes them as JSON objects, each is then
# validated on its own with the service's record model (services/common/batch.py).
BATCH_RECORDS = {
    ("finance", "/v1/loans/batch"): LoanIn,
    ("finance", "/v1/credit-lines/batch"): CreditLineIn,
    ("finance", "/v1/applications/batch"): ApplicationIn,
    ("finance", "/v1/guarantees/batch"): GuaranteeIn,
    ("finance", "/v1/loan-book-reports/batch"): LoanBookReportIn,
    ("registry", "/v1/enterprises/batch"): EnterpriseCreate,
    ("standards", "/v1/certifications/batch"): CertificateRecord,
}
# Fields that may run over several lines (tab, LF, CR LF); every other string is one line.
MULTI_LINE = {
    "registry POST /v1/pool/decisions body.reason",
    "registry POST /v1/enterprises/{credit_code}/titles/{title_id}/revoke body.reason",
    "standards POST /v1/certifications/batch record.scope",
    "standards POST /v1/certifications/batch record.status_reason",
    "standards PUT /v1/enterprises/{credit_code}/adoption/{year} body.basis",
}
_SCALARS = (bool, int, float, Decimal, date, datetime, UUID, type(None))


def _strip(t):
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    return t


def string_locations(t) -> list[tuple]:
    """Where strings sit inside a value of type `t`: field names and list indexes (0)."""
    t = _strip(t)
    origin = typing.get_origin(t)
    if t is str:
        return [()]
    if origin is typing.Literal or (isinstance(t, type) and issubclass(t, _SCALARS + (Enum,))):
        return []
    if origin in (typing.Union, types.UnionType):
        return [loc for arm in typing.get_args(t) for loc in string_locations(arm)]
    if origin in (list, set, frozenset, tuple, typing.Sequence):
        return [(0, *loc) for loc in string_locations(typing.get_args(t)[0])]
    if isinstance(t, type) and issubclass(t, BaseModel):
        return [
            (field.alias or name, *loc)
            for name, field in t.model_fields.items()
            for loc in string_locations(field.annotation)
        ]
    raise AssertionError(f"the text walk does not know {t!r}: teach it, or type the field")


def place(loc: tuple, sample: str):
    """`sample` at `loc` inside an otherwise empty value (dicts for names, lists for indexes)."""
    value: object = sample
    for step in reversed(loc):
        value = [value] if isinstance(step, int) else {step: value}
    return value


@dataclass(frozen=True)
class StringInput:
    label: str  # "finance POST /v1/loans/batch record.borrower_name"
    validate: typing.Callable[[object], list[dict]]  # a value → pydantic's errors
    loc: tuple  # where the string sits in that value

    def refuses(self, sample: str) -> bool:
        """`sample` at its place is refused by the text rule at that place."""
        n = len(self.loc)
        return any(
            tuple(e["loc"])[len(e["loc"]) - n :] == self.loc and e["type"] == TEXT_CONTROL_CHARACTER
            for e in self.validate(place(self.loc, sample))
        )


def model_errors(model: type[BaseModel]) -> typing.Callable[[object], list[dict]]:
    def validate(value: object) -> list[dict]:
        try:
            model.model_validate(value)
        except ValidationError as e:
            return e.errors(include_url=False)
        return []

    return validate


def param_errors(param, kind: str) -> typing.Callable[[object], list[dict]]:
    return lambda value: param.validate(value, loc=(kind, param.alias))[1]


def _dependants(dependant):
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _body_model(param) -> type[BaseModel]:
    body = _strip(param.field_info.annotation)
    return next((a for a in typing.get_args(body) if a is not type(None)), body)  # `Model | None`


def string_inputs(name: str, app) -> typing.Iterator[StringInput]:
    """Every string input of every route of `app`: parameters, query models, bodies, batch records."""
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        for method in sorted(route.methods or ()) if dependant else ():
            where = f"{name} {method} {route.path}"
            for d in _dependants(dependant):
                for kind in ("path", "query", "header", "cookie"):
                    for p in getattr(d, f"{kind}_params"):
                        for loc in string_locations(p.field_info.annotation):
                            yield StringInput(f"{where} {kind}.{p.alias}", param_errors(p, kind), loc)
                models = [("query", getattr(d.call, "query_model", None))]  # QueryModel(...)
                for p in d.body_params:
                    model = _body_model(p)
                    if isinstance(model, type) and issubclass(model, BatchBody):
                        assert BATCH_RECORDS.get((name, route.path)) is model.record_model, (
                            f"{where}: add its record model to BATCH_RECORDS"
                        )
                        model = model.record_model
                        models.append(("record", model))
                    else:
                        models.append(("body", model))
                for part, model in models:
                    for loc in string_locations(model) if model else ():
                        label = f"{where} {part}.{'.'.join(map(str, loc))}"
                        yield StringInput(label, model_errors(model), loc)


@pytest.fixture(scope="module")
def all_apps(apps):
    return {**apps, "gateway": create_gateway()}


def test_every_string_field_and_parameter_of_every_route_goes_through_the_text_rule(all_apps):
    assert set(all_apps) == {*SERVICE_FACTORIES, "gateway"}
    missing, multi_line, seen = [], set(), 0
    for name, app in all_apps.items():
        for item in string_inputs(name, app):
            seen += 1
            if not item.refuses(HOSTILE):
                missing.append(item.label)
            elif not item.refuses("a\nb"):
                multi_line.add(item.label)
    assert seen > 100  # the walk found the routes' strings
    assert not missing, "strings without the kit's text type:\n" + "\n".join(missing)
    assert multi_line == MULTI_LINE


class Forgetful(BaseModel):
    name: str
    tags: list[Text]


async def _post_thing(ref: str, body: Forgetful, q: Text | None = None) -> None: ...


def test_the_walk_finds_a_string_that_forgot_the_text_type():
    app = FastAPI()
    app.post("/things/{ref}")(_post_thing)

    refused = {item.label: item.refuses(HOSTILE) for item in string_inputs("demo", app)}
    assert refused == {
        "demo POST /things/{ref} path.ref": False,
        "demo POST /things/{ref} query.q": True,
        "demo POST /things/{ref} body.name": False,
        "demo POST /things/{ref} body.tags.0": True,
    }
