-- pgbench script of the PostgreSQL ceiling (scripts/bench): what the ingest batcher writes for
-- 100 events with one matching webhook consumer, in one transaction — the events (a ~600-byte
-- envelope), their deliveries and their outbox rows. ProjectSignal's ingest is compared to
-- 100 x the transactions per second of this script on the same server.
BEGIN;
WITH e AS (
  INSERT INTO events (id, project_id, type, envelope, idempotency_key, request_hash)
  SELECT 'evt_' || gen_random_uuid(), 'prj_pgceiling', 'bench.pg',
         '{"id":"evt_x","type":"bench.pg","timestamp":"2026-12-01T00:00:00.000Z","source":null,"subject":null,"data":{"t":1,"seq":1,"pad":"' || repeat('x', 480) || '"}}',
         NULL, md5(g::text)
  FROM generate_series(1, 100) AS g
  RETURNING id
), d AS (
  INSERT INTO deliveries (id, project_id, event_id, consumer_id, status)
  SELECT 'dlv_' || gen_random_uuid(), 'prj_pgceiling', id, 'con_pgceiling', 'pending' FROM e
  RETURNING id
)
INSERT INTO outbox (delivery_id) SELECT id FROM d;
COMMIT;
