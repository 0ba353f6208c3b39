-- talkrate catalog schema. Idempotent: applied on every setup.
CREATE TABLE IF NOT EXISTS talks (
    id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    title       text NOT NULL,
    speakers    text[] NOT NULL DEFAULT '{}',
    track       text,
    room        text,
    starts_at   timestamptz,
    ends_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);
