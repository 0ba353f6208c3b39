-- talkrate catalog schema. Idempotent and additive only (a rollback applies an earlier file:
-- nothing may be dropped or renamed that an earlier version of the functions reads).
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
-- A talk's revision: a new value at every save, never reused (not by a talk added again under
-- the same id either), so an organiser's If-Match cannot match a talk they never read.
CREATE SEQUENCE IF NOT EXISTS talk_revisions;
ALTER TABLE talks ADD COLUMN IF NOT EXISTS revision bigint NOT NULL
    DEFAULT nextval('talk_revisions');
-- The language of a talk's title and speakers' names (a BCP 47 tag, checked by the API), when an
-- organiser gave it; the pages mark those texts with it (HTML's lang) for screen readers.
ALTER TABLE talks ADD COLUMN IF NOT EXISTS language text;
-- Whether the organisers paused the talk's ratings (POST /ratings refused until they resume
-- them). A constant default: added without rewriting the table.
ALTER TABLE talks ADD COLUMN IF NOT EXISTS ratings_paused boolean NOT NULL DEFAULT false;

-- Event store: every projected RatingSubmitted, once per eventId, with the position it was first
-- projected from. The read model can always be rebuilt from it.
CREATE TABLE IF NOT EXISTS rating_events (
    event_id     uuid PRIMARY KEY,
    talk_id      text NOT NULL,
    value        smallint NOT NULL CHECK (value BETWEEN 1 AND 5),
    occurred_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
-- With a voter, only the voter's latest rating of a talk (by occurredAt, then eventId) counts.
ALTER TABLE rating_events ADD COLUMN IF NOT EXISTS voter_id text;
CREATE INDEX IF NOT EXISTS rating_events_talk ON rating_events (talk_id);
-- Nothing reads by position (the rebuild scans the whole table): no index to slow inserts.
DROP INDEX IF EXISTS rating_events_position;
-- The position of each copy of an event stored before (a producer's retry, the relay publishing
-- again an entry Kafka had taken): counted nowhere, but applied by the read model, so the event
-- store's last position of a partition is where the read model applied to. Written only when a
-- batch holds an event stored before (never on the projector's usual all-new COPY).
CREATE TABLE IF NOT EXISTS duplicate_positions (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    event_id     uuid NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);

-- Outbox: ratings the API accepted while Kafka did not acknowledge; RelayFunction publishes them.
CREATE TABLE IF NOT EXISTS rating_outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    talk_id       text NOT NULL,
    payload       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text
);
CREATE INDEX IF NOT EXISTS rating_outbox_pending ON rating_outbox (id) WHERE published_at IS NULL;
-- The request that accepted the rating (API Gateway's request id), carried to Kafka by the relay.
ALTER TABLE rating_outbox ADD COLUMN IF NOT EXISTS correlation_id text;

-- Dead letters: records the projector could not use, kept whole with the reason.
CREATE TABLE IF NOT EXISTS dead_letters (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    key          bytea,
    value        bytea,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    redriven_at  timestamptz,
    UNIQUE (topic, partition, "offset")
);
-- Each redrive of a letter as `ops redrive` was about to publish it ({"eventId", "value": the
-- event, "at"}), committed before the publish: a rating stored under a letter's eventId is told
-- for the letter's own (or a letter's of the same record) from another rating, even when the
-- redrive was cut off after Kafka took it.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS redrives jsonb NOT NULL DEFAULT '[]';

-- The voters `ops forget-voter` filed away, by the id their ratings are filed under (never the
-- voter's own): the API asks it when Redis cannot say whether a pass's voter was forgotten
-- (unreachable, or its marks lost), and a rebuild writes the marks again from it. Written
-- before the filing away, so a voter with no rating stored is kept too. Filled with the voters
-- the event store files under a `forgotten-` id at every apply, this file's or not
-- (talkrate.adapters.postgres.FILL_FORGOTTEN_VOTERS: an earlier release, during a rollback,
-- forgets without writing here).
CREATE TABLE IF NOT EXISTS forgotten_voters (
    pseudonym     text PRIMARY KEY,
    forgotten_at  timestamptz NOT NULL DEFAULT now()
);
-- When Redis's mark of the voter was last known set (`ops forget-voter` once its mark is set,
-- RelayFunction's run for the others); NULL: not yet, and RelayFunction sets it at its next
-- run (a forget that could not reach Redis, a voter filled in here). The index holds only
-- those, so a run with none waiting is one lookup of an empty index.
ALTER TABLE forgotten_voters ADD COLUMN IF NOT EXISTS marked_at timestamptz;
CREATE INDEX IF NOT EXISTS forgotten_voters_unmarked ON forgotten_voters (pseudonym)
    WHERE marked_at IS NULL;

-- The answers of POST /talks sent with an Idempotency-Key, written in the transaction that adds
-- the talk (a request that added nothing keeps nothing): a retry with the key and the same body
-- is given the first answer, and adds nothing more; with another body it is refused (422). Kept
-- an hour, as the ratings' keys are (talkrate.adapters.idempotency.KEY_TTL_SECONDS): older rows
-- are deleted by the next keyed POST. `key_hash`: SHA-256 of the key with its scope (never the
-- key); `request`: SHA-256 of the body's canonical JSON.
CREATE TABLE IF NOT EXISTS talk_requests (
    key_hash    text PRIMARY KEY,
    request     text NOT NULL,
    status      smallint,
    headers     jsonb,
    body        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS talk_requests_created ON talk_requests (created_at);

-- The schema files applied so far, by digest (talkrate.adapters.postgres.apply_schema): a
-- deploy whose file was applied before (unchanged, or an earlier one at a rollback: every
-- change here is additive) runs nothing, and takes no table's lock.
CREATE TABLE IF NOT EXISTS schema_applied (
    digest      text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
