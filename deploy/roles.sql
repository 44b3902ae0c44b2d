-- Least privilege in production: one login role per service. The migration role (owner of the
-- schemas) runs `eaglet migrate`; afterwards run the GRANT part of this file again so new tables
-- are covered (or use the default privileges below).
CREATE ROLE eaglet_registry LOGIN PASSWORD 'registry';
CREATE ROLE eaglet_finance LOGIN PASSWORD 'finance';
CREATE ROLE eaglet_standards LOGIN PASSWORD 'standards';
CREATE ROLE eaglet_gateway LOGIN PASSWORD 'gateway';
CREATE ROLE eaglet_worker LOGIN PASSWORD 'worker';

-- After migrations: each service reads and writes its own schema …
-- GRANT USAGE ON SCHEMA registry TO eaglet_registry;
-- GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA registry TO eaglet_registry;
-- GRANT USAGE ON ALL SEQUENCES IN SCHEMA registry TO eaglet_registry;
-- (likewise finance → eaglet_finance, standards → eaglet_standards, gateway → eaglet_gateway)
-- … the change logs stay append-only (no UPDATE/DELETE):
-- REVOKE UPDATE, DELETE ON registry.changes, finance.changes, standards.changes, gateway.changes FROM PUBLIC;
-- … and finance and standards read the registry only through its views:
-- GRANT USAGE ON SCHEMA registry TO eaglet_finance, eaglet_standards, eaglet_gateway;
-- GRANT SELECT ON registry.enterprise_directory, registry.enterprise_sizes, registry.scale_status_history
--   TO eaglet_finance, eaglet_standards;
-- … the programme targets, which every service and the gateway's bulletin report against:
-- GRANT SELECT ON registry.programme_target_directory TO eaglet_finance, eaglet_standards, eaglet_gateway;
-- … the job queue (schema jobs, procrastinate's): the registry defers its jobs in its own
-- transactions, the worker runs them (and writes the registry's results and job status):
-- GRANT USAGE ON SCHEMA jobs TO eaglet_registry, eaglet_worker;
-- GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA jobs TO eaglet_registry, eaglet_worker;
-- GRANT USAGE ON ALL SEQUENCES IN SCHEMA jobs TO eaglet_registry, eaglet_worker;
-- GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobs TO eaglet_registry, eaglet_worker;
-- GRANT USAGE ON SCHEMA registry TO eaglet_worker;
-- GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA registry TO eaglet_worker;
-- … and the worker's upkeep purges every schema's expired Idempotency-Keys:
-- GRANT USAGE ON SCHEMA finance, standards, gateway TO eaglet_worker;
-- GRANT SELECT, DELETE ON finance.idempotency_keys, standards.idempotency_keys, gateway.idempotency_keys TO eaglet_worker;
