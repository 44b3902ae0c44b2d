"""The batch pipeline (`services/common/batch.py`) on a tiny fake domain: a "thing" with a ref (the
key, stripped and upper-cased when parsed), a quantity and a limit, stored in a dict.

Stages: parse → rules → in-batch duplicates → look-up → atomic → upsert → results. Every domain
(finance, registry, standards) runs exactly this; the cases below also pin how the three former
copies disagreed and which behaviour is the pipeline's.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.batch import (
    BatchResponse,
    BatchSpec,
    Duplicates,
    InOrder,
    KeepFirst,
    Parsed,
    RejectEvery,
    Rule,
    RuleSet,
    Written,
    parse,
    parse_records,
    rejected_key,
    run_batch,
)
from services.common.http import json_data_response
from services.common.types import TEXT_ERROR_TYPES, text

RULES = RuleSet(
    "things",
    "T-1",
    [
        Rule("T-V001", "error", "/ref", "A ref is 1–64 characters"),
        Rule("T-V002", "error", "/qty", "A quantity is a whole number ≥ 0"),
        Rule("T-V003", "error", "/qty", "The quantity is within the limit"),
        Rule("T-V004", "error", "/ref", "A ref appears once per batch"),
        Rule("T-V005", "error", "/", "Text rule"),
        Rule("T-V006", "error", "/ref", "Refused by the store"),
        Rule("T-V007", "error", "/qty", "Never decreases below the stored quantity"),
        Rule("T-W001", "warning", "/ref", "The ref is new to the store"),
    ],
)
_FIELDS = {"ref": "T-V001", "qty": "T-V002"}


def rule_for_error(err: dict[str, Any]) -> str | None:
    if err["type"] in TEXT_ERROR_TYPES:
        return "T-V005"
    return _FIELDS.get(str(err["loc"][0]) if err["loc"] else "")


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: text(StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=64))
    qty: int = Field(ge=0)
    limit: int | None = None


def within_limit(t: Thing) -> list[dict]:
    if t.limit is not None and t.qty > t.limit:
        return [RULES.finding("T-V003", f"qty {t.qty} exceeds limit {t.limit}")]
    return []


class Savepoint:
    def __init__(self, session: FakeSession) -> None:
        self.session = session
        self.saved = dict(session.store)
        session.savepoints.append(self)
        self.outcome: str | None = None

    async def commit(self) -> None:
        self.outcome = "released"

    async def rollback(self) -> None:
        self.session.store.clear()
        self.session.store.update(self.saved)
        self.outcome = "rolled back"


class FakeSession:
    """Stands in for the request's AsyncSession: a store, and savepoints over it."""

    def __init__(self, store: dict[str, int] | None = None) -> None:
        self.store = dict(store or {})
        self.savepoints: list[Savepoint] = []

    async def begin_nested(self) -> Savepoint:
        return Savepoint(self)


class Domain:
    """The fake domain's hooks, recording what each stage was given."""

    def __init__(self, refuse: set[str] = frozenset(), decreasing: bool = False) -> None:
        self.refuse = refuse  # refs the upsert refuses to write (like a record of another region)
        self.decreasing = decreasing  # look-up rejects a quantity below the stored one
        self.looked_up: list[list[int]] = []
        self.upserted: list[list[int]] = []

    async def look_up(self, session: FakeSession, accepted: list[Parsed]) -> dict[int, list[dict]]:
        self.looked_up.append([p.index for p in accepted])
        rejected = {}
        for p in accepted:
            if p.record.ref not in session.store:
                p.warnings.append(RULES.finding("T-W001", f"{p.record.ref} is new"))
            stored = session.store.get(p.record.ref)
            if self.decreasing and stored is not None and p.record.qty < stored:
                rejected[p.index] = [RULES.finding("T-V007", f"qty {p.record.qty} < stored {stored}")]
        return rejected

    async def upsert(self, session: FakeSession, accepted: list[Parsed]) -> Written:
        self.upserted.append([p.index for p in accepted])
        written = Written()
        for p in accepted:
            ref, qty = p.record.ref, p.record.qty
            if ref in self.refuse:
                written.rejected[p.index] = [RULES.finding("T-V006", f"{ref} is not yours")]
                continue
            if ref not in session.store:
                written.statuses[p.index] = "created"
            elif session.store[ref] != qty:
                written.statuses[p.index] = "updated"
            session.store[ref] = qty
        return written

    def spec(self, duplicates: Duplicates = RejectEvery("T-V004")) -> BatchSpec:
        return BatchSpec(
            rule_set=RULES,
            model=Thing,
            key_field="ref",
            rule_for_error=rule_for_error,
            duplicates=duplicates,
            rules=within_limit,
            look_up=self.look_up,
            upsert=self.upsert,
        )


def statuses(out: dict) -> list[str]:
    return [r["status"] for r in out["results"]]


def rules_of(out: dict) -> list[list[str | None]]:
    return [[e["rule"] for e in r["errors"]] for r in out["results"]]


# ---- the stages and the answer -------------------------------------------------------------------


async def test_each_record_is_reported_in_posted_order_with_the_summary_and_rule_set():
    session, domain = FakeSession({"OLD": 1, "SAME": 2}), Domain()
    records = [
        {"ref": "new", "qty": 1},
        {"ref": "old", "qty": 5},
        {"ref": "same", "qty": 2},
        {"ref": "bad", "qty": -1},  # parse: T-V002
        {"ref": "over", "qty": 9, "limit": 3},  # record rule: T-V003
    ]
    out = await run_batch(session, domain.spec(), records, atomic=False)
    assert out["rule_set_version"] == "T-1" and out["atomic"] is False and out["committed"] is True
    assert statuses(out) == ["created", "updated", "unchanged", "rejected", "rejected"]
    assert [r["index"] for r in out["results"]] == [0, 1, 2, 3, 4]
    assert out["summary"] == {"received": 5, "created": 1, "updated": 1, "unchanged": 1, "rejected": 2}
    assert out["results"][3]["errors"] == [
        {
            "rule": "T-V002",
            "severity": "error",
            "pointer": "/qty",
            "code": "greater_than_equal",
            "message": "Input should be greater than or equal to 0",
        }
    ]
    assert rules_of(out)[4] == ["T-V003"]
    assert session.store == {"OLD": 5, "SAME": 2, "NEW": 1}


async def test_the_answer_is_exactly_the_documented_model_serialised_once():
    """Plain data (no model per result) whose bytes equal the `BatchResponse` model's JSON."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": "a", "qty": 1}, {"ref": "b", "qty": "x"}, {"ref": "c", "qty": 1, "extra": 1}]
    out = await run_batch(session, domain.spec(), records, atomic=False)
    model = BatchResponse.model_validate(out)
    assert json_data_response(out).body == model.model_dump_json().encode()
    assert json.loads(json_data_response(out).body) == out
    assert out["results"][2]["errors"][0]["rule"] is None  # an error no rule claims: rule null
    assert out["results"][2]["errors"][0]["code"] == "extra_forbidden"


async def test_the_whole_list_and_the_record_by_record_parse_agree():
    """The whole list is validated in one call; record by record only when something is wrong."""
    spec = Domain().spec()
    records = [{"ref": f" r{i} ", "qty": i} for i in range(5)]
    fast, none = parse(records, spec)
    slow, also_none = parse_records(records, Thing, rule_for_error, RULES)
    assert none == also_none == {}
    assert [(p.index, p.record, p.raw) for p in fast] == [(p.index, p.record, p.raw) for p in slow]
    records[2]["qty"] = "many"
    parsed, rejected = parse(records, spec)
    assert [p.index for p in parsed] == [0, 1, 3, 4] and list(rejected) == [2]


async def test_a_record_rejected_at_one_stage_takes_no_part_in_the_later_ones():
    session, domain = FakeSession({"LOW": 5}), Domain(decreasing=True)
    records = [
        {"ref": "a", "qty": "x"},  # parse
        {"ref": "b", "qty": 5, "limit": 1},  # rules
        {"ref": "c", "qty": 1},
        {"ref": "c", "qty": 2},  # duplicates (both)
        {"ref": "low", "qty": 1},  # look-up
        {"ref": "ok", "qty": 1},
    ]
    out = await run_batch(session, domain.spec(), records, atomic=False)
    assert rules_of(out) == [["T-V002"], ["T-V003"], ["T-V004"], ["T-V004"], ["T-V007"], []]
    assert domain.looked_up == [[4, 5]] and domain.upserted == [[5]]


async def test_no_look_up_and_no_upsert_without_a_surviving_record():
    session, domain = FakeSession(), Domain()
    out = await run_batch(session, domain.spec(), [{"ref": "a"}, {"qty": 1}], atomic=False)
    assert statuses(out) == ["rejected", "rejected"] and out["committed"] is True
    assert domain.looked_up == [] and domain.upserted == []


# ---- in-batch duplicates -------------------------------------------------------------------------


async def test_reject_every_rejects_each_occurrence_with_the_count():
    """Finance (FIN-V010): nothing says which occurrence is meant, so none is written."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": "d", "qty": 1}, {"ref": "x", "qty": 1}, {"ref": "d", "qty": 2}]
    out = await run_batch(session, domain.spec(RejectEvery("T-V004")), records, atomic=False)
    assert statuses(out) == ["rejected", "created", "rejected"]
    assert out["results"][0]["errors"] == [
        {
            "rule": "T-V004",
            "severity": "error",
            "pointer": "/ref",
            "code": "T-V004",
            "message": "ref D appears 2 times in this batch",
        }
    ]
    assert session.store == {"X": 1}


async def test_keep_first_keeps_the_first_occurrence_and_names_it_in_the_later_ones():
    """Registry (REG-E007)."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": "x", "qty": 1}, {"ref": "d", "qty": 1}, {"ref": "d", "qty": 2}, {"ref": "d", "qty": 3}]
    out = await run_batch(session, domain.spec(KeepFirst("T-V004")), records, atomic=False)
    assert statuses(out) == ["created", "created", "rejected", "rejected"]
    assert [r["errors"][0]["message"] for r in out["results"][2:]] == [
        "D already appears at record 1",
        "D already appears at record 1",
    ]
    assert [r["errors"][0]["pointer"] for r in out["results"][2:]] == ["/ref", "/ref"]
    assert session.store == {"X": 1, "D": 1}


async def test_in_order_passes_every_occurrence_on_in_posted_order():
    """Standards: several decisions for one certificate apply one after the other."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": "d", "qty": 1}, {"ref": "d", "qty": 2}]
    await run_batch(session, domain.spec(InOrder()), records, atomic=False)
    assert domain.looked_up == [[0, 1]] and domain.upserted == [[0, 1]]


@pytest.mark.parametrize("policy", [RejectEvery("T-V004"), KeepFirst("T-V004")])
async def test_a_record_a_rule_rejected_is_no_occurrence_of_its_key(policy):
    """Rules run before the duplicate check (finance's order; the registry checked duplicates
    before its region rule, so an out-of-region first occurrence used to reject a later valid one)."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": "d", "qty": 5, "limit": 1}, {"ref": "d", "qty": 1}]
    out = await run_batch(session, domain.spec(policy), records, atomic=False)
    assert statuses(out) == ["rejected", "created"] and rules_of(out)[0] == ["T-V003"]


@pytest.mark.parametrize("policy", [RejectEvery("T-V004"), KeepFirst("T-V004")])
async def test_duplicates_are_found_by_the_parsed_key_which_every_parsed_record_reports(policy):
    """ " d" and "D" are one key once parsed; a record that parsed reports its parsed key, rejected
    or not (standards did; the registry echoed a rejected record's key as sent)."""
    session, domain = FakeSession(), Domain()
    records = [{"ref": " d", "qty": 1}, {"ref": "D ", "qty": 2}]
    out = await run_batch(session, domain.spec(policy), records, atomic=False)
    assert rules_of(out)[1] == ["T-V004"]
    assert [r["key"] for r in out["results"]] == ["D", "D"]


def test_a_record_that_did_not_parse_reports_its_key_as_sent_or_none():
    assert rejected_key({"ref": "  abc "}, "ref") == "abc"
    assert rejected_key({"ref": 42}, "ref") == "42"
    assert rejected_key({"ref": "x" * 100}, "ref") == "x" * 64
    for raw in ({"ref": True}, {"ref": None}, {"ref": ["a"]}, {"ref": " "}, {}, "not a record"):
        assert rejected_key(raw, "ref") is None
    assert rejected_key({"ref": "a\x00b"}, "ref") is None  # refused text is never echoed
    assert rejected_key({"ref": "a\ud800"}, "ref") is None


async def test_an_unparsed_records_key_is_the_key_as_sent():
    session, domain = FakeSession(), Domain()
    out = await run_batch(session, domain.spec(), [{"ref": " abc ", "qty": "x"}], atomic=False)
    assert out["results"][0]["key"] == "abc"


# ---- warnings ------------------------------------------------------------------------------------


async def test_warnings_never_block_and_a_rejected_record_reports_none():
    """A warning tells how a record is stored; a rejected record is not (standards used to report
    the warnings of a record its lifecycle rules rejected; finance never did)."""
    session, domain = FakeSession({"LOW": 5}), Domain(decreasing=True)
    records = [{"ref": "new", "qty": 1}, {"ref": "low", "qty": 1}]
    out = await run_batch(session, domain.spec(), records, atomic=False)
    assert statuses(out) == ["created", "rejected"]
    assert [w["rule"] for w in out["results"][0]["warnings"]] == ["T-W001"]
    assert out["results"][0]["warnings"][0]["severity"] == "warning"
    assert out["results"][1]["warnings"] == []


# ---- atomic --------------------------------------------------------------------------------------


async def test_atomic_with_a_rejected_record_writes_nothing_and_every_other_record_is_unchanged():
    """Standards used to report `created`/`updated` for the records of an atomic batch it did not
    commit; nothing was written, so they are `unchanged` (finance and registry, the routes' docs)."""
    session, domain = FakeSession({"OLD": 1}), Domain()
    records = [{"ref": "new", "qty": 1}, {"ref": "old", "qty": 2}, {"ref": "bad", "qty": -1}]
    out = await run_batch(session, domain.spec(), records, atomic=True)
    assert out["committed"] is False and out["atomic"] is True
    assert statuses(out) == ["unchanged", "unchanged", "rejected"]
    assert out["summary"] == {"received": 3, "created": 0, "updated": 0, "unchanged": 2, "rejected": 1}
    assert domain.upserted == [] and session.store == {"OLD": 1}
    assert [w["rule"] for w in out["results"][0]["warnings"]] == ["T-W001"]  # look-ups still ran


async def test_atomic_undoes_the_upsert_when_it_rejects_a_record():
    """The upsert may find a record it must not write (the registry: registered in another region);
    with atomic the pipeline's savepoint undoes everything the upsert wrote."""
    session, domain = FakeSession({"OLD": 1}), Domain(refuse={"THEIRS"})
    records = [{"ref": "new", "qty": 1}, {"ref": "old", "qty": 2}, {"ref": "theirs", "qty": 1}]
    out = await run_batch(session, domain.spec(), records, atomic=True)
    assert out["committed"] is False
    assert statuses(out) == ["unchanged", "unchanged", "rejected"] and rules_of(out)[2] == ["T-V006"]
    assert [s.outcome for s in session.savepoints] == ["rolled back"]
    assert session.store == {"OLD": 1}


async def test_atomic_without_a_rejection_commits_in_a_released_savepoint():
    session, domain = FakeSession(), Domain()
    out = await run_batch(session, domain.spec(), [{"ref": "a", "qty": 1}], atomic=True)
    assert out["committed"] is True and statuses(out) == ["created"]
    assert [s.outcome for s in session.savepoints] == ["released"] and session.store == {"A": 1}


async def test_partial_keeps_what_the_upsert_wrote_next_to_what_it_rejected():
    session, domain = FakeSession(), Domain(refuse={"THEIRS"})
    records = [{"ref": "new", "qty": 1}, {"ref": "theirs", "qty": 1}]
    out = await run_batch(session, domain.spec(), records, atomic=False)
    assert out["committed"] is True and statuses(out) == ["created", "rejected"]
    assert out["results"][1]["key"] == "THEIRS"
    assert session.savepoints == [] and session.store == {"NEW": 1}


def test_a_rule_finding_is_plain_data_shaped_as_the_finding_model():
    f = RULES.finding("T-W001", "m")
    assert f == {"rule": "T-W001", "severity": "warning", "pointer": "/ref", "code": "T-W001", "message": "m"}
    assert orjson.loads(orjson.dumps(f)) == f
    assert RULES.finding("T-V005", "m", "/name", "text_control_character")["pointer"] == "/name"
