-- The in-flight lease moves from deliveries to the outbox row the relay publishes (which stays,
-- due again when the lease runs out, until the attempt writer deletes it with the result), so
-- that the two status updates every delivery takes (in_flight, then its result) change no
-- indexed column and are HOT: the status and lease indexes made each one write all six of the
-- table's indexes again. Listing deliveries by status filters the project's index instead.
--
-- Deliveries in flight now had their outbox row deleted when they were published: they get it
-- back as a lease running out when theirs does, as the former sweeper would have re-queued them.
INSERT INTO outbox (delivery_id, attempt, available_at, lease_until)
  SELECT id, attempts + 1, coalesce(lease_until, now()), coalesce(lease_until, now())
  FROM deliveries d WHERE status = 'in_flight'
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.delivery_id = d.id AND o.attempt = d.attempts + 1);
DROP INDEX deliveries_status_idx;
DROP INDEX deliveries_in_flight_idx;
ALTER TABLE deliveries DROP COLUMN lease_until;
-- Room on each page for the updated row versions: HOT needs the new version on the same page.
ALTER TABLE deliveries SET (fillfactor = 75);
-- The attempt writer and discard find a delivery's lease by delivery id.
CREATE INDEX outbox_delivery_idx ON outbox (delivery_id, attempt);
