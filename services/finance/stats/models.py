"""The statistics summary tables, filled by the triggers of `db.py` (which says what each holds)
and read by `repository.py`; no ORM class maps them: only SQL writes and reads them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from services.common.models import metadata

S = "finance"
MONEY = Numeric(20, 2)

LOAN_MONTH_TOTALS = Table(
    "loan_month_totals",
    metadata,
    Column("lender", Text, nullable=False),
    Column("borrower_region", String(6), nullable=False),
    Column("product", String(24), nullable=False),
    Column("month", Date, nullable=False),
    Column("n_all", BigInteger, nullable=False),
    Column("a_all", MONEY, nullable=False),
    Column("n_sm", BigInteger, nullable=False),
    Column("a_sm", MONEY, nullable=False),
    Column("n_inc", BigInteger, nullable=False),
    Column("a_inc", MONEY, nullable=False),
    Column("rate_w", Numeric, nullable=False),
    Column("bal_delta", MONEY, nullable=False),
    Column("inc_delta", MONEY, nullable=False),
    Column("sm_delta", MONEY, nullable=False),  # bal_delta of the small/micro loans only
    PrimaryKeyConstraint("lender", "borrower_region", "product", "month"),
    schema=S,
)

# No key: a borrower's islands in a cell are replaced as a whole when a write touches it.
LOAN_INCLUSIVE_ISLANDS = Table(
    "loan_inclusive_islands",
    metadata,
    Column("borrower_credit_code", String(18), nullable=False),
    Column("scope_region", String(6), nullable=False),
    Column("scope_lender", Text, nullable=False),
    Column("first_month", Date, nullable=False),
    Column("end_month", Date, nullable=False),
    Index("ix_loan_inclusive_islands_borrower_credit_code", "borrower_credit_code"),
    schema=S,
)

# `lender`: whose writers keep the row (a by-lender cell's own lender; for an all-lender cell, the
# lender whose transaction changed the islands): the figures sum over it.
LOAN_INCLUSIVE_BORROWER_MONTHS = Table(
    "loan_inclusive_borrower_months",
    metadata,
    Column("scope_region", String(6), nullable=False),
    Column("scope_lender", Text, nullable=False),
    Column("month", Date, nullable=False),
    Column("lender", Text, nullable=False),
    Column("delta", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope_region", "scope_lender", "month", "lender"),
    schema=S,
)

# One row per borrower the summaries hold islands or borrower years of: a writer locks the rows of
# the borrowers it changes before it reads and replaces their islands and years (db.py), so that one
# does at a time.
LOAN_SUMMARY_BORROWERS = Table(
    "loan_summary_borrowers",
    metadata,
    Column("borrower_credit_code", String(18), primary_key=True),
    schema=S,
)

# One row per (borrower, calendar year, lender cell: a lender or '' all lenders, county) with the OR
# of the flags of the borrower's applications and loans of that year there (db.py, "Borrower years").
LOAN_BORROWER_YEARS = Table(
    "loan_borrower_years",
    metadata,
    Column("borrower_credit_code", String(18), nullable=False),
    Column("year", Integer, nullable=False),
    Column("scope_lender", Text, nullable=False),
    Column("borrower_region", String(6), nullable=False),
    Column("applied_sm", Boolean, nullable=False),
    Column("obtained", Boolean, nullable=False),
    Column("applied_other", Boolean, nullable=False),
    Column("first_loan", Boolean, nullable=False),
    PrimaryKeyConstraint("borrower_credit_code", "year", "scope_lender", "borrower_region"),
    schema=S,
)

# Distinct borrowers with each flag per (year, region cell: prefix of length 0/2/4/6, lender cell);
# `lender` is whose writers keep the row, as in loan_inclusive_borrower_months: the figures sum over it.
LOAN_BORROWER_YEAR_COUNTS = Table(
    "loan_borrower_year_counts",
    metadata,
    Column("year", Integer, nullable=False),
    Column("scope_region", String(6), nullable=False),
    Column("scope_lender", Text, nullable=False),
    Column("lender", Text, nullable=False),
    Column("applied", BigInteger, nullable=False),
    Column("obtained", BigInteger, nullable=False),
    Column("other_applied", BigInteger, nullable=False),
    Column("first_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("year", "scope_region", "scope_lender", "lender"),
    schema=S,
)

# One row per writing transaction, whose deferred trigger applies the summaries.
LOAN_SUMMARY_MARKS = Table(
    "loan_summary_marks",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    schema=S,
)
