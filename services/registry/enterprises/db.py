"""Database objects of the enterprise registry: the name-search grams and the views other
services read (docs/contracts.md).

`name_grams(name)` is what the GIN index on `enterprises.name_grams` holds for a name: the
distinct pairs (c[i] || c[i+1]) and skip pairs (c[i] || '_' || c[i+2]) of the lower-cased name
without whitespace, sorted; a one-character name is its own gram. The query side reads a query the
same way (`search.letters` and `bigrams`; tests/registry/enterprises/test_db.py holds the two
together).
"""

from __future__ import annotations

from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_view import PGView

from services.registry.titles.db import active

S = "registry"

NAME_GRAMS = PGFunction(
    schema=S,
    signature="name_grams(name text)",
    definition="""RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN char_length(n) <= 1 THEN CASE WHEN n = '' THEN '{}'::text[] ELSE ARRAY[n] END
              ELSE ARRAY(SELECT DISTINCT g FROM (
                           SELECT a || b AS g FROM unnest(c[1:cardinality(c) - 1], c[2:]) AS t(a, b)
                           UNION ALL
                           SELECT a || '_' || b FROM unnest(c[1:cardinality(c) - 2], c[3:]) AS t(a, b)
                             WHERE a IS NOT NULL AND b IS NOT NULL) u
                         ORDER BY 1) END
  FROM (SELECT n, string_to_array(n, NULL) AS c
        FROM (SELECT lower(regexp_replace(coalesce(name, ''), '[[:space:]]+', '', 'g')) AS n) s) s2
$$""",
)

# The pairs alone: what the name column held before the skip pairs (no column uses it any more;
# kept so that downgrading below the grams migration finds it).
NAME_BIGRAMS = PGFunction(
    schema=S,
    signature="name_bigrams(name text)",
    definition="""RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN char_length(n) <= 1 THEN CASE WHEN n = '' THEN '{}'::text[] ELSE ARRAY[n] END
              ELSE ARRAY(SELECT DISTINCT a || b FROM unnest(c[1:cardinality(c) - 1], c[2:]) AS t(a, b)
                         ORDER BY 1) END
  FROM (SELECT n, string_to_array(n, NULL) AS c
        FROM (SELECT lower(regexp_replace(coalesce(name, ''), '[[:space:]]+', '', 'g')) AS n) s) s2
$$""",
)

# The registry's contract with the other services: they read enterprises only through these.
DIRECTORY = PGView(
    schema=S,
    signature="enterprise_directory",
    definition=f"""SELECT e.credit_code, e.name, e.region_code, e.industry_code, e.industry_section,
       e.size_class, e.size_year, e.scale_status, e.tier,
       ARRAY(SELECT DISTINCT t.kind FROM {S}.titles t
             WHERE t.credit_code = e.credit_code AND {active()}
             ORDER BY t.kind) AS titles
FROM {S}.enterprises e""",
)
SIZES = PGView(
    schema=S,
    signature="enterprise_sizes",
    definition=f"SELECT credit_code, year, size_class FROM {S}.indicators WHERE size_class IS NOT NULL",
)
SCALE_HISTORY = PGView(
    schema=S,
    signature="scale_status_history",
    definition=f"SELECT credit_code, status, effective_year FROM {S}.scale_statuses",
)

VIEWS = [DIRECTORY, SIZES, SCALE_HISTORY]
ENTITIES = [NAME_GRAMS, NAME_BIGRAMS, *VIEWS]
