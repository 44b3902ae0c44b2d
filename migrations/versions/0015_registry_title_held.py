"""Titles: one "held" rule, and the programme's today (the Shanghai date).

A title is held on a day when valid_from <= day <= valid_to (if any) and it is not revoked on or
before that day; active means held today, today being the Shanghai calendar date
(services/registry/titles/db.py, services/common/today.py). Before, the enterprises' cached
title sets and the directory view treated a title as inactive from the moment it was revoked
(even with a revocation dated in the future) and used the UTC date. The cached sets are
recomputed with the rule, so each one runs out on the day a dated revocation takes effect.

Revision ID: 0015_registry_title_held
Revises: 0014_programme_targets
"""

from alembic import op
from alembic_utils.pg_function import PGFunction
from alembic_utils.pg_view import PGView

revision = "0015_registry_title_held"
down_revision = "0014_programme_targets"
branch_labels = None
depends_on = None

REFRESH_ALL = "SELECT registry.refresh_title_cache(ARRAY(SELECT DISTINCT credit_code FROM registry.titles))"


def upgrade() -> None:
    registry_refresh_title_cache = PGFunction(
        schema="registry",
        signature="refresh_title_cache(codes text[])",
        definition="""RETURNS void LANGUAGE sql AS $$
  UPDATE registry.enterprises e
  SET active_titles = c.kinds, titles_until = c.until
  FROM (
    SELECT x.code,
      COALESCE((SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM registry.titles t
                WHERE t.credit_code = x.code AND (t.valid_from <= ((now()) AT TIME ZONE 'Asia/Shanghai')::date AND (t.valid_to IS NULL OR t.valid_to >= ((now()) AT TIME ZONE 'Asia/Shanghai')::date) AND (t.status = 'active' OR t.revoked_on > ((now()) AT TIME ZONE 'Asia/Shanghai')::date))), '{}') AS kinds,
      COALESCE((SELECT min(CASE WHEN t.valid_from > ((now()) AT TIME ZONE 'Asia/Shanghai')::date THEN t.valid_from - 1 ELSE least(t.valid_to, CASE WHEN t.status = 'revoked' THEN t.revoked_on - 1 END) END)
                FROM registry.titles t
                WHERE t.credit_code = x.code
                  AND ((t.valid_from <= ((now()) AT TIME ZONE 'Asia/Shanghai')::date AND (t.valid_to IS NULL OR t.valid_to >= ((now()) AT TIME ZONE 'Asia/Shanghai')::date) AND (t.status = 'active' OR t.revoked_on > ((now()) AT TIME ZONE 'Asia/Shanghai')::date)) OR (t.valid_from > ((now()) AT TIME ZONE 'Asia/Shanghai')::date AND (t.valid_from <= t.valid_from AND (t.valid_to IS NULL OR t.valid_to >= t.valid_from) AND (t.status = 'active' OR t.revoked_on > t.valid_from))))),
               'infinity') AS until
    FROM (SELECT DISTINCT unnest(codes) AS code) x
  ) c
  WHERE e.credit_code = c.code
$$""",
    )
    op.replace_entity(registry_refresh_title_cache)
    registry_enterprise_directory = PGView(
        schema="registry",
        signature="enterprise_directory",
        definition="""SELECT e.credit_code, e.name, e.region_code, e.industry_code, e.industry_section,
       e.size_class, e.size_year, e.scale_status, e.tier,
       ARRAY(SELECT DISTINCT t.kind FROM registry.titles t
             WHERE t.credit_code = e.credit_code AND (t.valid_from <= ((now()) AT TIME ZONE 'Asia/Shanghai')::date AND (t.valid_to IS NULL OR t.valid_to >= ((now()) AT TIME ZONE 'Asia/Shanghai')::date) AND (t.status = 'active' OR t.revoked_on > ((now()) AT TIME ZONE 'Asia/Shanghai')::date))
             ORDER BY t.kind) AS titles
FROM registry.enterprises e""",
    )
    op.replace_entity(registry_enterprise_directory)
    op.execute(REFRESH_ALL)


def downgrade() -> None:
    registry_refresh_title_cache = PGFunction(
        schema="registry",
        signature="refresh_title_cache(codes text[])",
        definition="""RETURNS void LANGUAGE sql AS $$
  UPDATE registry.enterprises e
  SET active_titles = c.kinds, titles_until = c.until
  FROM (
    SELECT x.code,
      COALESCE((SELECT array_agg(DISTINCT t.kind ORDER BY t.kind) FROM registry.titles t
                WHERE t.credit_code = x.code AND t.status = 'active' AND t.valid_from <= current_date AND (t.valid_to IS NULL OR t.valid_to >= current_date)), '{}') AS kinds,
      COALESCE((SELECT min(CASE WHEN t.valid_from > current_date THEN t.valid_from - 1 ELSE t.valid_to END)
                FROM registry.titles t
                WHERE t.credit_code = x.code AND t.status = 'active'
                  AND (t.valid_from > current_date OR t.valid_to >= current_date)), 'infinity') AS until
    FROM (SELECT DISTINCT unnest(codes) AS code) x
  ) c
  WHERE e.credit_code = c.code
$$""",
    )
    op.replace_entity(registry_refresh_title_cache)
    registry_enterprise_directory = PGView(
        schema="registry",
        signature="enterprise_directory",
        definition="""SELECT e.credit_code, e.name, e.region_code, e.industry_code, e.industry_section,
       e.size_class, e.size_year, e.scale_status, e.tier,
       ARRAY(SELECT DISTINCT t.kind FROM registry.titles t
             WHERE t.credit_code = e.credit_code AND t.status = 'active' AND t.valid_from <= current_date AND (t.valid_to IS NULL OR t.valid_to >= current_date)
             ORDER BY t.kind) AS titles
FROM registry.enterprises e""",
    )
    op.replace_entity(registry_enterprise_directory)
    op.execute(REFRESH_ALL)
