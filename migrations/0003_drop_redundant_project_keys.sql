-- A delivery belongs to its event's project and an attempt to its delivery's: the foreign keys
-- from deliveries and delivery_attempts to projects said nothing the event and delivery keys do
-- not, yet every inserted row took a KEY SHARE lock on the one project row that every concurrent
-- ingest and attempt transaction locks too (measured: the largest of the foreign-key checks on
-- the ingest path). Deleting a project still removes them all: projects -> events -> deliveries
-- -> delivery_attempts and outbox, each ON DELETE CASCADE.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_project_id_fkey;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_project_id_fkey;
