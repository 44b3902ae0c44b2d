"""Registry statistics summaries: per (region_code, year) counts kept by statement-level triggers,
and the data version the statistics cache is keyed on.

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
figures computed from scratch (tests/registry/test_stats_summaries.py compares both, and the
statistics read from either); `registry.rebuild_summaries()` refills the table (the summaries
migration's backfill and the bulk generator's last step).

Every statement that changes a table the statistics read bumps the sequence `registry.data_version`
(no row lock, so writers never queue on it); the statistics cache keys its entries on it.
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_trigger import PGTrigger

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


def fact_trigger_fn(table: str, cols: str, contrib, event: str) -> PGFunction:
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
    return PGFunction(
        schema=S,
        signature=f"summarize_{table}_{event}()",
        definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {body};
  RETURN NULL;
END $$""",
    )


def cloud_trigger_fn(event: str) -> PGFunction:
    parts = []
    if event in ("insert", "update"):
        parts.append(cloud_contrib(f"SELECT {CLOUD_COLS} FROM new_rows", "1"))
    if event in ("update", "delete"):
        parts.append(cloud_contrib(f"SELECT {CLOUD_COLS} FROM old_rows", "-1"))
    return PGFunction(
        schema=S,
        signature=f"summarize_indicators_{event}()",
        definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {apply(parts)};
  RETURN NULL;
END $$""",
    )


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
# Whether any moved is a set difference (old code and region no longer among the new), found by
# hashing; the join of the two transition tables would be a nested loop, n² for n rows updated in
# one statement.
MOVED = """SELECT o.credit_code FROM old_rows o JOIN new_rows n USING (credit_code)
    WHERE o.region_code IS DISTINCT FROM n.region_code"""
ANY_MOVED = """SELECT credit_code, region_code FROM old_rows
    EXCEPT SELECT credit_code, region_code FROM new_rows"""
ENTERPRISE_UPDATE_FN = PGFunction(
    schema=S,
    signature="summarize_enterprises_update()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS ({ANY_MOVED}) THEN
    {apply(all_contribs(MOVED, "-1"), "old_rows")};
    {apply(all_contribs(MOVED, "1"), "new_rows")};
  END IF;
  RETURN NULL;
END $$""",
)

# An enterprise about to be deleted: remove its contributions while its facts are still there (the
# cascaded fact deletes then find no enterprise and change nothing). Deleting enterprises is rare
# (no route does it), so one row at a time is fine here.
ENTERPRISE_DELETE_FN = PGFunction(
    schema=S,
    signature="summarize_enterprises_delete()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {apply(all_contribs("SELECT OLD.credit_code", "-1"), "(SELECT OLD.credit_code AS credit_code, OLD.region_code AS region_code)")};
  RETURN OLD;
END $$""",
)

COMPUTED_FN = PGFunction(
    schema=S,
    signature="computed_summaries()",
    definition=f"""RETURNS TABLE (region_code text, year int, {", ".join(c + " int" for c in COLS)})
LANGUAGE sql STABLE AS $$
  SELECT e.region_code, c.year, {SUMS}
  FROM ({" UNION ALL ".join(all_contribs(None, "1"))}) AS {CONTRIB_ALIAS}
  JOIN {S}.enterprises e ON e.credit_code = c.credit_code
  GROUP BY 1, 2 HAVING {NONZERO}
$$""",
)

REBUILD_FN = PGFunction(
    schema=S,
    signature="rebuild_summaries()",
    definition=f"""RETURNS void LANGUAGE sql AS $$
  DELETE FROM {S}.region_year_summaries;
  INSERT INTO {S}.region_year_summaries (region_code, year, {", ".join(COLS)})
  SELECT * FROM {S}.computed_summaries() ORDER BY 1, 2;
$$""",
)

REBUILD_TRIGGER_FN = PGFunction(
    schema=S,
    signature="summaries_after_truncate()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM {S}.rebuild_summaries(); RETURN NULL; END $$""",
)

FACTS = ("scale_statuses", "pool_decisions", "indicators")
EVENTS = ("insert", "update", "delete")


def fact_summary_trigger(t: str, event: str) -> PGTrigger:
    """The trigger folding the rows an `event` wrote to fact table `t` into the summaries."""
    ref = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }.get(event, "OLD TABLE AS old_rows")
    return PGTrigger(
        schema=S,
        signature=f"{t}_summarize_{event}",
        on_entity=f"{S}.{t}",
        definition=f"AFTER {event.upper()} ON {S}.{t} REFERENCING {ref} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.summarize_{t}_{event}()",
    )


def summary_triggers() -> list[PGTrigger]:
    out = []
    for t in FACTS:
        out += [fact_summary_trigger(t, event) for event in EVENTS]
        out.append(
            PGTrigger(
                schema=S,
                signature=f"{t}_summaries_truncate",
                on_entity=f"{S}.{t}",
                definition=f"AFTER TRUNCATE ON {S}.{t} FOR EACH STATEMENT EXECUTE FUNCTION {S}.summaries_after_truncate()",
            )
        )
    out.append(
        PGTrigger(
            schema=S,
            signature="enterprises_summarize_update",
            on_entity=f"{S}.enterprises",
            definition=f"AFTER UPDATE ON {S}.enterprises REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.summarize_enterprises_update()",
        )
    )
    out.append(
        PGTrigger(
            schema=S,
            signature="enterprises_summarize_delete",
            on_entity=f"{S}.enterprises",
            definition=f"BEFORE DELETE ON {S}.enterprises FOR EACH ROW EXECUTE FUNCTION {S}.summarize_enterprises_delete()",
        )
    )
    return out


# In creation order: the functions the triggers call come first.
SUMMARY_FUNCTIONS = [
    COMPUTED_FN,
    REBUILD_FN,
    REBUILD_TRIGGER_FN,
    ENTERPRISE_UPDATE_FN,
    ENTERPRISE_DELETE_FN,
    *[
        fn
        for event in EVENTS
        for fn in (
            fact_trigger_fn("scale_statuses", SCALE_COLS, scale_contrib, event),
            fact_trigger_fn("pool_decisions", TIER_COLS, tier_contrib, event),
            cloud_trigger_fn(event),
        )
    ],
]
SUMMARY_TRIGGERS = summary_triggers()
# The fact tables' write triggers (a bulk load switches them off and rebuilds the summaries).
FACT_SUMMARY_TRIGGERS = [fact_summary_trigger(t, event) for t in FACTS for event in EVENTS]

# The statistics read these tables: a write to any of them makes a new data version.
FACT_TABLES = (
    "enterprises",
    "indicators",
    "scale_statuses",
    "titles",
    "pool_decisions",
    "parks",
    "park_tenants",
)
BUMP_DATA_VERSION = PGFunction(
    schema=S,
    signature="bump_data_version()",
    definition=f"""RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('{S}.data_version'); RETURN NULL; END $$""",
)
DATA_VERSION_TRIGGERS = [
    PGTrigger(
        schema=S,
        signature=f"{t}_bump_data_version",
        on_entity=f"{S}.{t}",
        definition=f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {S}.{t} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.bump_data_version()",
    )
    for t in FACT_TABLES
]

ENTITIES = [BUMP_DATA_VERSION, *DATA_VERSION_TRIGGERS, *SUMMARY_FUNCTIONS, *SUMMARY_TRIGGERS]
