-- The PostgreSQL ceiling's database (scripts/bench): one project and one webhook consumer for
-- the rows bench/pg_ingest.sql inserts. No daemon reads this database.
INSERT INTO projects (id, name, realtime_secret) VALUES ('prj_pgceiling', 'pg-ceiling', 'secret');
INSERT INTO consumers (id, project_id, name, kind, url, secret)
VALUES ('con_pgceiling', 'prj_pgceiling', 'sink', 'webhook', 'http://127.0.0.1:9/', 'whsec_x');
