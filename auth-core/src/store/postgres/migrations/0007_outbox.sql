-- Expand only: new tables. The outbox: messages a state change produced, and one delivery per
-- sink with its attempts, its next attempt, the lease a worker holds on it, and when it was
-- done. A message goes once every sink has it.
CREATE TABLE auth_outbox (
    id         uuid        PRIMARY KEY,
    kind       text        NOT NULL,
    payload    jsonb       NOT NULL,
    sinks      text[]      NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE auth_outbox_deliveries (
    message_id      uuid        NOT NULL REFERENCES auth_outbox (id) ON DELETE CASCADE,
    sink            text        COLLATE "C" NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    leased_until    timestamptz,
    delivered_at    timestamptz,
    last_error      text,
    PRIMARY KEY (message_id, sink)
);
CREATE INDEX auth_outbox_deliveries_due_idx ON auth_outbox_deliveries (sink, next_attempt_at)
    WHERE delivered_at IS NULL;
