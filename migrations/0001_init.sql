-- The whole schema of DESIGN §4. Ids are prefixed ULIDs (text): time-ordered, so lists page by id.

CREATE TABLE accounts (
  id            text PRIMARY KEY,
  email         text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- Session tokens are stored as SHA-256 hex: a database leak does not leak live sessions.
CREATE TABLE sessions (
  id          text PRIMARY KEY,
  account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  token_hash  text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_account_idx ON sessions (account_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- account_id is NULL for projects made with the bootstrap admin token.
CREATE TABLE projects (
  id              text PRIMARY KEY,
  account_id      text REFERENCES accounts (id) ON DELETE CASCADE,
  name            text NOT NULL,
  settings        jsonb NOT NULL DEFAULT '{}',
  retention_days  integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650),
  realtime_secret text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_account_idx ON projects (account_id, id);

CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL UNIQUE,
  key_hash     text NOT NULL,
  scopes       text[] NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_project_idx ON api_keys (project_id, id);

CREATE TABLE consumers (
  id                  text PRIMARY KEY,
  project_id          text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name                text NOT NULL,
  kind                text NOT NULL CHECK (kind IN ('webhook', 'push', 'email', 'websocket')),
  url                 text,
  headers             jsonb NOT NULL DEFAULT '{}',
  template            jsonb,
  settings            jsonb NOT NULL DEFAULT '{}',
  status              text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
  disabled_reason     text,
  secret              text NOT NULL,
  previous_secret     text,
  previous_secret_expires_at timestamptz,
  failing_since       timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consumers_project_idx ON consumers (project_id, id);

CREATE TABLE subscriptions (
  id          text PRIMARY KEY,
  project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  consumer_id text NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
  pattern     text NOT NULL,
  filter      jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_project_idx ON subscriptions (project_id, id);
CREATE INDEX subscriptions_consumer_idx ON subscriptions (consumer_id);

-- The envelope is kept byte-exact as signed and delivered.
CREATE TABLE events (
  id              text PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  type            text NOT NULL,
  envelope        text NOT NULL,
  idempotency_key text,
  request_hash    text,
  deliver_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, idempotency_key)
);
CREATE INDEX events_project_idx ON events (project_id, id);
CREATE INDEX events_created_idx ON events (created_at);

CREATE TABLE deliveries (
  id               text PRIMARY KEY,
  project_id       text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  consumer_id      text NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
  status           text NOT NULL CHECK (status IN ('scheduled', 'pending', 'in_flight', 'succeeded',
                                                   'retrying', 'dead', 'discarded')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  lease_until      timestamptz,
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_project_idx ON deliveries (project_id, id);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_consumer_idx ON deliveries (consumer_id, id);
CREATE INDEX deliveries_status_idx ON deliveries (project_id, status, id);
CREATE INDEX deliveries_in_flight_idx ON deliveries (lease_until) WHERE status = 'in_flight';

CREATE TABLE delivery_attempts (
  id            text PRIMARY KEY,
  project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  delivery_id   text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt       integer NOT NULL,
  started_at    timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status_code   integer,
  error_class   text,
  error         text,
  response_body text,
  node_id       text NOT NULL,
  UNIQUE (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_started_idx ON delivery_attempts (started_at);

-- The hot queue: thin rows, claimed with FOR UPDATE SKIP LOCKED, deleted once relayed.
CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  delivery_id  text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL DEFAULT 1,
  available_at timestamptz NOT NULL DEFAULT now(),
  lease_until  timestamptz,
  lease_owner  text
);
CREATE INDEX outbox_due_idx ON outbox (available_at);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, fillfactor = 90);
