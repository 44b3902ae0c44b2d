"""Registry performance: a cheaper name-bigram function, indexes for the statistics' joins at a
million enterprises, and a data version the statistics cache is keyed on.

Revision ID: 0006_registry_performance
Revises: 0005_gateway
"""

from alembic import op

revision = "0006_registry_performance"
down_revision = "0005_gateway"
branch_labels = None
depends_on = None

S = "registry"

# Same result as 0002's version (distinct character pairs of the lower-cased name without
# whitespace, sorted), ~3x cheaper: one string_to_array split and a two-array unnest instead of
# substr() over generate_series and an aggregate.
NAME_BIGRAMS = f"""
CREATE OR REPLACE FUNCTION {S}.name_bigrams(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN char_length(n) <= 1 THEN CASE WHEN n = '' THEN '{{}}'::text[] ELSE ARRAY[n] END
              ELSE ARRAY(SELECT DISTINCT a || b FROM unnest(c[1:cardinality(c) - 1], c[2:]) AS t(a, b)
                         ORDER BY 1) END
  FROM (SELECT n, string_to_array(n, NULL) AS c
        FROM (SELECT lower(regexp_replace(coalesce(name, ''), '[[:space:]]+', '', 'g')) AS n) s) s2
$$
"""
OLD_NAME_BIGRAMS = f"""
CREATE OR REPLACE FUNCTION {S}.name_bigrams(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{{}}')
  FROM (SELECT substr(n, i, 2) AS g
        FROM (SELECT lower(regexp_replace(coalesce(name, ''), '[[:space:]]+', '', 'g')) AS n) s,
             generate_series(1, greatest(char_length(n) - 1, 1)) AS i) t
  WHERE g <> ''
$$
"""


# Every statement that changes a table the statistics read bumps a sequence (no row lock, so
# writers never queue on it); the statistics cache keys its entries on it.
FACT_TABLES = (
    "enterprises",
    "indicators",
    "scale_statuses",
    "titles",
    "pool_decisions",
    "parks",
    "park_tenants",
)


def upgrade() -> None:
    op.execute(NAME_BIGRAMS)
    # Region of an enterprise by credit code without visiting the heap (statistics join every
    # fact row to its enterprise's region).
    op.execute(
        f"CREATE INDEX ix_enterprises_credit_code_region_code ON {S}.enterprises (credit_code) INCLUDE (region_code)"
    )
    op.execute(
        f"CREATE INDEX ix_indicators_year_credit_code ON {S}.indicators (year, credit_code) WHERE on_cloud"
    )
    op.execute(f"CREATE SEQUENCE {S}.data_version")
    op.execute(
        f"""CREATE FUNCTION {S}.bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('{S}.data_version'); RETURN NULL; END $$"""
    )
    for t in FACT_TABLES:
        op.execute(
            f"CREATE TRIGGER {t}_bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {S}.{t} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {S}.bump_data_version()"
        )


def downgrade() -> None:
    for t in FACT_TABLES:
        op.execute(f"DROP TRIGGER {t}_bump_data_version ON {S}.{t}")
    op.execute(f"DROP FUNCTION {S}.bump_data_version()")
    op.execute(f"DROP SEQUENCE {S}.data_version")
    op.execute(f"DROP INDEX {S}.ix_indicators_year_credit_code")
    op.execute(f"DROP INDEX {S}.ix_enterprises_credit_code_region_code")
    op.execute(OLD_NAME_BIGRAMS)
