"""The finance change feed's catalogue: loans, credit lines, applications, guarantees.

Every finance record is written by the set-based upsert (`bulk.py`), whose change rows hold the
whole row before and after (`to_jsonb`), and a loan's inclusive flag is also re-derived when its
borrower's credit lines change (`loans/repository.py` `recompute_inclusive`, action
`reclassified`). So:

| change row (entity_type, action)        | event                                               |
|-----------------------------------------|-----------------------------------------------------|
| loan, created                           | `loan.created`                                      |
| loan, updated / reclassified            | `loan.reclassified` when the inclusive flag changed, else `loan.updated` |
| credit_line, created / updated          | `credit_line.created` / `credit_line.updated`       |
| loan_application, created / updated     | `application.created` / `application.updated`      |
| guarantee, created / updated            | `guarantee.created` / `guarantee.updated`           |
| institution, created                    | none (see IGNORED)                                  |
| submission, completed                   | `submission.completed` (its owner's: services/common/submissions/events.py) |

Who sees an event: whoever may read its record now, by the lists' rule (`scope.py`, `sees`):
the bank that lent (its loans, lines, applications; the guarantees naming it), the guarantor (its
guarantees), an official whose region covers the borrower's, admin. The owner is part of the
record's key and never changes, so it is read from the change row; the borrower's region and a
guarantee's bank can change, so they are read from the stored record (one query per table and page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
from pydantic import TypeAdapter

from services.common.auth import Principal
from services.common.events import Catalogue, ChangeRow, Described, changed, decimal, segment
from services.common.scope import RegionScope
from services.common.submissions.events import with_submissions
from services.finance import bulk
from services.finance.applications.repository import SPEC as APPLICATIONS
from services.finance.fields import MoneyOut, RateOut
from services.finance.guarantees.repository import SPEC as GUARANTEES
from services.finance.lines.repository import SPEC as LINES
from services.finance.loans.repository import SPEC as LOANS
from services.finance.scope import sees

_MONEY = TypeAdapter(MoneyOut)
_RATE = TypeAdapter(RateOut)


def money(v: Any) -> str | None:
    """A stored amount as the lists write it ("1250000.00")."""
    return None if v is None else _MONEY.dump_python(decimal(v), mode="json")


def rate(v: Any) -> str | None:
    """A stored rate as the lists write it ("4.35")."""
    return None if v is None else _RATE.dump_python(decimal(v), mode="json")


Data = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """One kind of finance record in the feed."""

    spec: bulk.UpsertSpec
    subject: str  # the subject type and the prefix of the event types
    prefix: str
    bank: str | None  # the column naming the bank that may read it
    bank_fixed: bool  # that column is the record's owner (part of its key: never changes)
    guarantor: str | None
    fields: tuple[str, ...]  # the readable fields an update may change (for `changed`)
    created: Data  # data of `<prefix>.created`
    updated: Data  # the rest of the data of `<prefix>.updated` (besides key and `changed`)
    links: Data


def _list_link(path: str) -> Data:
    return lambda r: {"list": f"/finance/v1/{path}?{urlencode({'borrower': r.get('borrower_credit_code')})}"}


LOAN_FIELDS = (
    "borrower_credit_code", "borrower_name", "borrower_size", "product", "amount", "annual_rate",
    "issued_on", "matures_on", "renewal_type", "is_first_loan", "credit_line_ref", "guarantee_ref",
    "outstanding_balance", "status", "closed_on", "borrower_kind", "customer_ref", "borrower_region",
    "matched", "size_class", "size_source", "line_total", "loans_total", "inclusive", "inclusive_reason",
)  # fmt: skip


def _updatable(spec: bulk.UpsertSpec) -> tuple[str, ...]:
    """The fields an update may change: what the bank reports but the key, and what is derived."""
    return (*(c for c in spec.columns if c != spec.key_col), *spec.derived)


KINDS: dict[str, Kind] = {
    "loan": Kind(
        spec=LOANS,
        subject="loan",
        prefix="loan",
        bank="lender",
        bank_fixed=True,
        guarantor=None,
        fields=LOAN_FIELDS,
        created=lambda r: {
            "lender": r.get("lender"),
            "loan_ref": r.get("loan_ref"),
            "borrower_credit_code": r.get("borrower_credit_code"),
            "amount": money(r.get("amount")),
            "issued_on": r.get("issued_on"),
            "status": r.get("status"),
            "inclusive": r.get("inclusive"),
        },
        updated=lambda r: {
            "status": r.get("status"),
            "outstanding_balance": money(r.get("outstanding_balance")),
            "inclusive": r.get("inclusive"),
        },
        links=lambda r: {
            "self": f"/finance/v1/lenders/{segment(r.get('lender'))}/loans/{segment(r.get('loan_ref'))}"
        },
    ),
    "credit_line": Kind(
        spec=LINES,
        subject="credit_line",
        prefix="credit_line",
        bank="lender",
        bank_fixed=True,
        guarantor=None,
        fields=_updatable(LINES),
        created=lambda r: {
            "lender": r.get("lender"),
            "line_ref": r.get("line_ref"),
            "borrower_credit_code": r.get("borrower_credit_code"),
            "amount": money(r.get("amount")),
            "granted_on": r.get("granted_on"),
            "expires_on": r.get("expires_on"),
            "status": r.get("status"),
        },
        updated=lambda r: {"amount": money(r.get("amount")), "status": r.get("status")},
        links=_list_link("credit-lines"),
    ),
    "loan_application": Kind(
        spec=APPLICATIONS,
        subject="application",
        prefix="application",
        bank="lender",
        bank_fixed=True,
        guarantor=None,
        fields=_updatable(APPLICATIONS),
        created=lambda r: {
            "lender": r.get("lender"),
            "application_ref": r.get("application_ref"),
            "borrower_credit_code": r.get("borrower_credit_code"),
            "amount_requested": money(r.get("amount_requested")),
            "applied_on": r.get("applied_on"),
            "decision": r.get("decision"),
        },
        updated=lambda r: {"decision": r.get("decision"), "decided_on": r.get("decided_on")},
        links=_list_link("applications"),
    ),
    "guarantee": Kind(
        spec=GUARANTEES,
        subject="guarantee",
        prefix="guarantee",
        bank="lender_code",
        bank_fixed=False,
        guarantor="guarantor",
        fields=_updatable(GUARANTEES),
        created=lambda r: {
            "guarantor": r.get("guarantor"),
            "guarantee_ref": r.get("guarantee_ref"),
            "lender_code": r.get("lender_code"),
            "loan_ref": r.get("loan_ref"),
            "borrower_credit_code": r.get("borrower_credit_code"),
            "guaranteed_amount": money(r.get("guaranteed_amount")),
            "fee_rate": rate(r.get("fee_rate")),
            "status": r.get("status"),
        },
        updated=lambda r: {
            "lender_code": r.get("lender_code"),
            "outstanding_amount": money(r.get("outstanding_amount")),
            "status": r.get("status"),
        },
        links=_list_link("guarantees"),
    ),
}

# The public names of changed fields (the lists show `unmatched`, the table stores `matched`).
_SHOWN_AS = {"matched": "unmatched"}


def _key(kind: Kind, state: dict[str, Any]) -> dict[str, Any]:
    return {
        kind.spec.owner_col: state.get(kind.spec.owner_col),
        kind.spec.key_col: state.get(kind.spec.key_col),
    }


def describe(row: ChangeRow) -> Described | None:
    kind = KINDS.get(row.entity_type)
    if kind is None:
        return None
    before, after = row.before, row.after
    subject = {"type": kind.subject, "key": row.entity_key}
    links = kind.links(after)
    if row.action == "created":
        return Described(f"{kind.prefix}.created", subject, kind.created(after), links)
    if row.action not in ("updated", "reclassified"):
        return None
    if kind.subject == "loan" and before.get("inclusive") != after.get("inclusive"):
        data = {
            **_key(kind, after),
            "inclusive": after.get("inclusive"),
            "previous_inclusive": before.get("inclusive"),
            "inclusive_reason": after.get("inclusive_reason"),
            "line_total": money(after.get("line_total")),
            # what moved it: the borrower's credit lines at the lender, or the loan's own facts
            "cause": "credit_lines" if row.action == "reclassified" else "loan",
        }
        return Described("loan.reclassified", subject, data, links)
    fields = [_SHOWN_AS.get(f, f) for f in changed(before, after, kind.fields)]
    data = {**_key(kind, after), "changed": fields, **kind.updated(after)}
    return Described(f"{kind.prefix}.updated", subject, data, links)


def _owners(principal: Principal, kind: Kind, row: ChangeRow, prefix: str) -> bool:
    """False when the row's key alone shows it is another owner's: a record's key is
    `<owner>/<ref>`, so the caller's record has a key starting with its code and a `/` (codes may
    hold a `/` too, so a key that does is then checked on the row itself)."""
    if principal.kind == "bank" and kind.bank_fixed:
        return row.entity_key.startswith(prefix)
    if principal.kind == "guarantor":
        return kind.guarantor is not None and row.entity_key.startswith(prefix)
    return True


def may_see(principal: Principal, row: ChangeRow) -> bool:
    if principal.is_admin or principal.kind == "official":
        return True
    if principal.kind not in ("bank", "guarantor") or not principal.org:
        return False
    return _owners(principal, KINDS[row.entity_type], row, f"{principal.org}/")


async def visible(conn: asyncpg.Connection, principal: Principal, rows: list[ChangeRow]) -> list[bool]:
    if principal.is_admin:
        return [True] * len(rows)
    if principal.kind not in ("bank", "guarantor", "official") or (
        principal.kind != "official" and not principal.org
    ):
        return [False] * len(rows)
    prefix = f"{principal.org}/"
    official = principal.kind == "official"
    candidates = [r for r in rows if _owners(principal, KINDS[r.entity_type], r, prefix)]
    # The facts that can change are read from the stored records, for the rows that need them.
    wanted: dict[str, set[tuple[str, str]]] = {}
    for row in candidates:
        kind = KINDS[row.entity_type]
        if official or (principal.kind == "bank" and not kind.bank_fixed):
            state = row.after or row.before
            wanted.setdefault(row.entity_type, set()).add(
                (state.get(kind.spec.owner_col), state.get(kind.spec.key_col))
            )
    current: dict[str, dict] = {}
    for entity_type, keys in wanted.items():
        kind = KINDS[entity_type]
        columns = ["borrower_region"] + ([kind.bank] if kind.bank and not kind.bank_fixed else [])
        current[entity_type] = await bulk.stored(conn, kind.spec, sorted(keys), columns)
    scope = RegionScope.of(principal)
    seen: set[int] = set()
    for row in candidates:
        kind = KINDS[row.entity_type]
        state = row.after or row.before
        owner = state.get(kind.spec.owner_col)
        facts: dict[str, Any] = {kind.spec.owner_col: owner}
        if row.entity_type in current:
            record = current[row.entity_type].get((owner, state.get(kind.spec.key_col)))
            if record is None:  # no such record (any more): nobody but admin reads it
                continue
            facts.update(record)
        if sees(
            principal,
            region=facts.get("borrower_region"),
            bank=facts.get(kind.bank) if kind.bank else None,
            guarantor=facts.get(kind.guarantor) if kind.guarantor else None,
            scope=scope,
        ):
            seen.add(row.seq)
    return [r.seq in seen for r in rows]


_BOTH = frozenset({"loan.updated", "loan.reclassified"})
CATALOGUE = Catalogue(
    service="finance",
    sources={
        ("loan", "created"): frozenset({"loan.created"}),
        ("loan", "updated"): _BOTH,
        ("loan", "reclassified"): _BOTH,
        ("credit_line", "created"): frozenset({"credit_line.created"}),
        ("credit_line", "updated"): frozenset({"credit_line.updated"}),
        ("loan_application", "created"): frozenset({"application.created"}),
        ("loan_application", "updated"): frozenset({"application.updated"}),
        ("guarantee", "created"): frozenset({"guarantee.created"}),
        ("guarantee", "updated"): frozenset({"guarantee.updated"}),
    },
    ignored={
        ("institution", "created"): "reference data an admin keeps (GET /finance/v1/institutions); "
        "a new institution is no record of a caller's",
    },
    describe=describe,
    visible=visible,
    may_see=may_see,
    resync=(
        "/finance/v1/loans",
        "/finance/v1/credit-lines",
        "/finance/v1/applications",
        "/finance/v1/guarantees",
    ),
)
# … with its file submissions' `submission.completed`, seen by their owners (services/common/submissions/events.py)
CATALOGUE = with_submissions(CATALOGUE)
