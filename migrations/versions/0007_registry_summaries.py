"""Registry statistics summaries: per (region_code, year) counts kept by statement-level triggers.

`registry.region_year_summaries` holds, for every county-level region and year:
- `above_delta`: change of the number of above-scale enterprises at that year end (the status at a
  year end is the latest scale fact with effective_year ≤ year), so above-scale at the end of Y is
  Σ above_delta over years ≤ Y; `scale_entries` / `scale_exits`: enterprises whose status went from
  not-above to above (above to not-above) between the end of year − 1 and the end of year;
- `seedling` … `champion`: change of the number of enterprises holding that pool tier at the year
  end (latest admit/exit decision with year ≤ Y), again a delta summed over years ≤ Y;
- `on_cloud`: enterprises whose indicators for that year say on_cloud (a count, not a delta).

Triggers (one statement each, transition tables, no row loops) recompute the contributions of the
enterprises a statement touched from their facts before and after the statement and add the
difference; an enterprise's region change moves its contributions, deleting an enterprise removes
them, TRUNCATE of a fact table rebuilds everything. `registry.computed_summaries()` is the same
figures computed from scratch (tests compare both); `registry.rebuild_summaries()` refills the table
(this migration's backfill and the bulk generator's last step).

Revision ID: 0007_registry_summaries
Revises: 0006_registry_performance
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_registry_summaries"
down_revision = "0006_registry_performance"
branch_labels = None
depends_on = None

S = "registry"
COLS = (
    "above_delta",
    "scale_entries",
    "scale_exits",
    "on_cloud",
    "seedling",
    "specialized",
    "champion_candidate",
    "champion",
)


def scale_contrib(facts: str, sign: str) -> str:
    """(credit_code, year, *COLS) contributions of scale facts `facts` (credit_code, id, status,
    effective_year), multiplied by `sign`."""
    return f"""SELECT credit_code, year, {sign} * d, {sign} * (d > 0)::int, {sign} * (d < 0)::int,
                  0, 0, 0, 0, 0
        FROM (SELECT credit_code, year,
                (status = 'above')::int
                - coalesce((lag(status) OVER (PARTITION BY credit_code ORDER BY year) = 'above')::int, 0) AS d
              FROM (SELECT DISTINCT ON (credit_code, effective_year) credit_code, effective_year AS year, status
                    FROM ({facts}) f ORDER BY credit_code, effective_year, id DESC) e) s
        WHERE d <> 0"""


def tier_contrib(facts: str, sign: str) -> str:
    """Contributions of pool decisions `facts` (credit_code, id, tier, year, decision)."""
    steps = f"""(SELECT credit_code, year, held, lag(held) OVER (PARTITION BY credit_code ORDER BY year) AS prev
        FROM (SELECT DISTINCT ON (credit_code, year) credit_code, year,
                     CASE WHEN decision = 'admit' THEN tier END AS held
              FROM ({facts}) f WHERE decision IN ('admit', 'exit')
              ORDER BY credit_code, year, id DESC) e)"""
    tiers = ", ".join(f"{sign} * x.d * (x.tier = '{t}')::int" for t in COLS[4:])
    return f"""SELECT x.credit_code, x.year, 0, 0, 0, 0, {tiers}
        FROM (SELECT credit_code, year, held AS tier, 1 AS d FROM {steps} s1
              WHERE held IS DISTINCT FROM prev AND held IS NOT NULL
              UNION ALL
              SELECT credit_code, year, prev, -1 FROM {steps} s2
              WHERE held IS DISTINCT FROM prev AND prev IS NOT NULL) x"""


def cloud_contrib(facts: str, sign: str) -> str:
    """Contributions of indicator rows `facts` (credit_code, year, on_cloud)."""
    return f"SELECT credit_code, year, 0, 0, 0, {sign}, 0, 0, 0, 0 FROM ({facts}) f WHERE on_cloud"


SCALE_COLS = "credit_code, id, status, effective_year"
TIER_COLS = "credit_code, id, tier, year, decision"
CLOUD_COLS = "credit_code, year, on_cloud"
SUMS = ", ".join(f"sum(c.{c})::int" for c in COLS)
NONZERO = " OR ".join(f"sum(c.{c}) <> 0" for c in COLS)
CONTRIB_ALIAS = f"c(credit_code, year, {', '.join(COLS)})"


def apply(contribs: list[str], regions: str = f"{S}.enterprises") -> str:
    """Add the contributions (union of `contribs`) to the summaries, by the region `regions`
    (credit_code, region_code) gives; keys in order, so concurrent writers lock them in one order."""
    union = "\n UNION ALL ".join(contribs)
    updates = ", ".join(f"{c} = s.{c} + excluded.{c}" for c in COLS)
    return f"""INSERT INTO {S}.region_year_summaries AS s (region_code, year, {", ".join(COLS)})
        SELECT r.region_code, c.year, {SUMS}
        FROM ({union}) AS {CONTRIB_ALIAS}
        JOIN {regions} r ON r.credit_code = c.credit_code
        GROUP BY 1, 2 HAVING {NONZERO} ORDER BY 1, 2
        ON CONFLICT (region_code, year) DO UPDATE SET {updates}"""


def _current(table: str, cols: str, codes: str) -> str:
    return f"SELECT {cols} FROM {S}.{table} WHERE credit_code IN ({codes})"


def fact_trigger_fn(table: str, cols: str, contrib, event: str) -> str:
    """Trigger function for `event` on a step-function fact table (scale_statuses, pool_decisions):
    contributions of the touched enterprises' facts after the statement minus before it."""
    has_new, has_old = event in ("insert", "update"), event in ("update", "delete")
    sources = [f"SELECT credit_code FROM {n}" for n, h in (("new_rows", has_new), ("old_rows", has_old)) if h]
    codes = " UNION ".join(sources)
    before = _current(table, cols, codes)
    if has_new:
        before += " AND id NOT IN (SELECT id FROM new_rows)"
    if has_old:
        before += f" UNION ALL SELECT {cols} FROM old_rows"
    body = apply([contrib(_current(table, cols, codes), "1"), contrib(before, "-1")])
    return f"""CREATE FUNCTION {S}.summarize_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {body};
  RETURN NULL;
END $$"""


def cloud_trigger_fn(event: str) -> str:
    parts = []
    if event in ("insert", "update"):
        parts.append(cloud_contrib(f"SELECT {CLOUD_COLS} FROM new_rows", "1"))
    if event in ("update", "delete"):
        parts.append(cloud_contrib(f"SELECT {CLOUD_COLS} FROM old_rows", "-1"))
    return f"""CREATE FUNCTION {S}.summarize_indicators_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {apply(parts)};
  RETURN NULL;
END $$"""


def all_contribs(codes: str | None, sign: str) -> list[str]:
    """Contributions of every fact of the enterprises `codes` (a query of credit codes; None: all)."""

    def cur(table: str, cols: str) -> str:
        return f"SELECT {cols} FROM {S}.{table}" + (
            "" if codes is None else f" WHERE credit_code IN ({codes})"
        )

    return [
        scale_contrib(cur("scale_statuses", SCALE_COLS), sign),
        tier_contrib(cur("pool_decisions", TIER_COLS), sign),
        cloud_contrib(cur("indicators", CLOUD_COLS), sign),
    ]


# An enterprise moved to another region: its contributions leave the old region, join the new one.
MOVED = """SELECT o.credit_code FROM old_rows o JOIN new_rows n USING (credit_code)
    WHERE o.region_code IS DISTINCT FROM n.region_code"""
ENTERPRISE_UPDATE_FN = f"""CREATE FUNCTION {S}.summarize_enterprises_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS ({MOVED}) THEN
    {apply(all_contribs(MOVED, "-1"), "old_rows")};
    {apply(all_contribs(MOVED, "1"), "new_rows")};
  END IF;
  RETURN NULL;
END $$"""

# An enterprise about to be deleted: remove its contributions while its facts are still there (the
# cascaded fact deletes then find no enterprise and change nothing). Deleting enterprises is rare
# (no route does it), so one row at a time is fine here.
ENTERPRISE_DELETE_FN = f"""CREATE FUNCTION {S}.summarize_enterprises_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {apply(all_contribs("SELECT OLD.credit_code", "-1"), "(SELECT OLD.credit_code AS credit_code, OLD.region_code AS region_code)")};
  RETURN OLD;
END $$"""

COMPUTED_FN = f"""CREATE FUNCTION {S}.computed_summaries()
RETURNS TABLE (region_code text, year int, {", ".join(c + " int" for c in COLS)})
LANGUAGE sql STABLE AS $$
  SELECT e.region_code, c.year, {SUMS}
  FROM ({" UNION ALL ".join(all_contribs(None, "1"))}) AS {CONTRIB_ALIAS}
  JOIN {S}.enterprises e ON e.credit_code = c.credit_code
  GROUP BY 1, 2 HAVING {NONZERO}
$$"""

REBUILD_FN = f"""CREATE FUNCTION {S}.rebuild_summaries() RETURNS void LANGUAGE sql AS $$
  DELETE FROM {S}.region_year_summaries;
  INSERT INTO {S}.region_year_summaries (region_code, year, {", ".join(COLS)})
  SELECT * FROM {S}.computed_summaries() ORDER BY 1, 2;
$$"""

REBUILD_TRIGGER_FN = f"""CREATE FUNCTION {S}.summaries_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM {S}.rebuild_summaries(); RETURN NULL; END $$"""

FACTS = ("scale_statuses", "pool_decisions", "indicators")
EVENTS = ("insert", "update", "delete")


def trigger_names() -> list[tuple[str, str]]:
    """(table, trigger) of every summary trigger (the bulk generator switches them off)."""
    out = [(t, f"{t}_summarize_{e}") for t in FACTS for e in EVENTS]
    out += [("enterprises", "enterprises_summarize_update"), ("enterprises", "enterprises_summarize_delete")]
    return out


def upgrade() -> None:
    op.create_table(
        "region_year_summaries",
        sa.Column("region_code", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        *[sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in COLS],
        sa.PrimaryKeyConstraint("region_code", "year", name="pk_region_year_summaries"),
        schema=S,
    )
    op.execute(COMPUTED_FN)
    op.execute(REBUILD_FN)
    op.execute(REBUILD_TRIGGER_FN)
    op.execute(ENTERPRISE_UPDATE_FN)
    op.execute(ENTERPRISE_DELETE_FN)
    for event in EVENTS:
        op.execute(fact_trigger_fn("scale_statuses", SCALE_COLS, scale_contrib, event))
        op.execute(fact_trigger_fn("pool_decisions", TIER_COLS, tier_contrib, event))
        op.execute(cloud_trigger_fn(event))
    for t in FACTS:
        for event in EVENTS:
            ref = {
                "insert": "NEW TABLE AS new_rows",
                "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            }.get(event, "OLD TABLE AS old_rows")
            op.execute(
                f"CREATE TRIGGER {t}_summarize_{event} AFTER {event.upper()} ON {S}.{t} "
                f"REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION {S}.summarize_{t}_{event}()"
            )
        op.execute(
            f"CREATE TRIGGER {t}_summaries_truncate AFTER TRUNCATE ON {S}.{t} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.summaries_after_truncate()"
        )
    op.execute(
        f"CREATE TRIGGER enterprises_summarize_update AFTER UPDATE ON {S}.enterprises "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.summarize_enterprises_update()"
    )
    op.execute(
        f"CREATE TRIGGER enterprises_summarize_delete BEFORE DELETE ON {S}.enterprises "
        f"FOR EACH ROW EXECUTE FUNCTION {S}.summarize_enterprises_delete()"
    )
    op.execute(f"SELECT {S}.rebuild_summaries()")


def downgrade() -> None:
    for t, trigger in trigger_names():
        op.execute(f"DROP TRIGGER {trigger} ON {S}.{t}")
    for t in FACTS:
        op.execute(f"DROP TRIGGER {t}_summaries_truncate ON {S}.{t}")
        for event in EVENTS:
            op.execute(f"DROP FUNCTION {S}.summarize_{t}_{event}()")
    for fn in (
        "summarize_enterprises_update",
        "summarize_enterprises_delete",
        "summaries_after_truncate",
        "rebuild_summaries",
        "computed_summaries",
    ):
        op.execute(f"DROP FUNCTION {S}.{fn}()")
    op.drop_table("region_year_summaries", schema=S)
