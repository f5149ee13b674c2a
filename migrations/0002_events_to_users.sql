-- Targeting of realtime pushes (DESIGN §9): an event with `to.users` reaches only those users'
-- WebSocket sessions. Kept with the event so relaying and replays see it too.
ALTER TABLE events ADD COLUMN to_users jsonb;
