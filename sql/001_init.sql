-- Foundation schema: campaigns, leads, operators, attempts with their timeline, engine commands.

CREATE TABLE campaign (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    active          boolean NOT NULL DEFAULT true,
    max_attempts    integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    retry_delay_s   integer NOT NULL DEFAULT 1800 CHECK (retry_delay_s BETWEEN 0 AND 2592000),
    ring_timeout_s  integer NOT NULL DEFAULT 30 CHECK (ring_timeout_s BETWEEN 5 AND 300),
    caller_id       text NOT NULL DEFAULT '',
    wrap_up_limit_s integer NOT NULL DEFAULT 0 CHECK (wrap_up_limit_s BETWEEN 0 AND 86400),
    auto_ready      boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lead (
    id              bigserial PRIMARY KEY,
    campaign_id     bigint NOT NULL REFERENCES campaign(id),
    external_id     text NOT NULL,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    name            text NOT NULL DEFAULT '',
    attrs           jsonb NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'new'
                    CHECK (state IN ('new', 'callable', 'in_progress', 'done', 'exhausted')),
    attempts        integer NOT NULL DEFAULT 0,
    next_call_at    timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_outcome    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, external_id)
);
-- the claim scans callable leads of a campaign in due order
CREATE INDEX lead_claim_idx ON lead (campaign_id, next_call_at, id) WHERE state IN ('new', 'callable');

CREATE TABLE operator (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    login         text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9_.-]{2,40}$'),
    sip_password  text NOT NULL CHECK (length(sip_password) >= 8),
    server        text NOT NULL DEFAULT 'pbx',
    status        text NOT NULL DEFAULT 'offline'
                  CHECK (status IN ('offline', 'paused', 'ready', 'in_call', 'wrap_up', 'lunch')),
    status_since  timestamptz NOT NULL DEFAULT now(),
    leg_channel   text,          -- the operator's live channel on `server`, while it is up
    bridge_id     text,          -- the operator's own mixing bridge
    attempt_id    bigint,        -- the attempt the operator is reserved for / talking / wrapping up
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE operator_campaign (
    operator_id bigint NOT NULL REFERENCES operator(id) ON DELETE CASCADE,
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    PRIMARY KEY (operator_id, campaign_id)
);

CREATE TABLE attempt (
    id                   bigserial PRIMARY KEY,
    lead_id              bigint NOT NULL REFERENCES lead(id),
    campaign_id          bigint NOT NULL REFERENCES campaign(id),
    operator_id          bigint REFERENCES operator(id),
    server               text NOT NULL DEFAULT 'pbx',
    phone                text NOT NULL,
    client_channel       text,
    reserved_at          timestamptz NOT NULL DEFAULT now(),  -- lead claimed for a Ready operator
    offered_at           timestamptz,  -- operator's leg set up for it
    operator_answered_at timestamptz,
    dial_started_at      timestamptz,
    ringing_at           timestamptz,
    answered_at          timestamptz,
    bridged_at           timestamptz,
    ended_at             timestamptz,
    hangup_cause         integer,
    cause_text           text,
    sip_code             integer,
    dial_status          text,
    outcome              text CHECK (outcome IN ('ANSWERED', 'NO_ANSWER', 'BUSY', 'REJECTED', 'LOST', 'ERROR')),
    error                text,
    wrap_up_result       text,
    wrap_up_comment      text,
    wrap_up_at           timestamptz,
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
);
-- a lead is never dialled twice at once; an operator never holds two live attempts (SPEC L2, B1)
CREATE UNIQUE INDEX attempt_live_lead_uq ON attempt (lead_id) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX attempt_live_operator_uq ON attempt (operator_id) WHERE ended_at IS NULL;
CREATE INDEX attempt_campaign_idx ON attempt (campaign_id, id);
CREATE INDEX attempt_lead_idx ON attempt (lead_id);

-- raw facts of each attempt as the engine saw them (ARI events, commands), in order
CREATE TABLE attempt_event (
    id          bigserial PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES attempt(id),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX attempt_event_attempt_idx ON attempt_event (attempt_id, id);

-- commands from the web / CLI / AGI to the engine (the engine is the only writer of call state)
CREATE TABLE engine_command (
    id          bigserial PRIMARY KEY,
    operator_id bigint NOT NULL REFERENCES operator(id),
    kind        text NOT NULL CHECK (kind IN ('ready', 'pause', 'lunch', 'wrap_up', 'hangup')),
    payload     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    done_at     timestamptz,
    error       text
);
CREATE INDEX engine_command_pending_idx ON engine_command (id) WHERE done_at IS NULL;

CREATE FUNCTION engine_command_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('engine_command', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER engine_command_notify AFTER INSERT ON engine_command
    FOR EACH ROW EXECUTE FUNCTION engine_command_notify();

-- announced to panels: operator status changes and attempt changes
CREATE FUNCTION dialer_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dialer_event', json_build_object('table', TG_TABLE_NAME, 'id', NEW.id)::text);
    RETURN NEW;
END $$;
CREATE TRIGGER operator_event_notify AFTER UPDATE OF status ON operator
    FOR EACH ROW EXECUTE FUNCTION dialer_event_notify();
CREATE TRIGGER attempt_event_notify AFTER INSERT OR UPDATE OF outcome, answered_at ON attempt
    FOR EACH ROW EXECUTE FUNCTION dialer_event_notify();

-- Asterisk realtime PJSIP (SPEC A4): operators' softphones are live in Asterisk as soon as the row exists
CREATE VIEW ps_endpoints AS
    SELECT login AS id, 'transport-udp'::text AS transport, login AS aors, login AS auth,
           'dialer-operators'::text AS context, 'all'::text AS disallow, 'ulaw,alaw'::text AS allow,
           'no'::text AS direct_media, 'yes'::text AS rtp_symmetric, 'yes'::text AS force_rport,
           'yes'::text AS rewrite_contact, ('"' || replace(name, '"', '') || '" <' || login || '>') AS callerid
      FROM operator;
CREATE VIEW ps_auths AS
    SELECT login AS id, 'userpass'::text AS auth_type, login AS username, sip_password AS password
      FROM operator;
CREATE VIEW ps_aors AS
    SELECT login AS id, 1 AS max_contacts, 'yes'::text AS remove_existing, 0 AS qualify_frequency,
           NULL::text AS contact  -- Asterisk asks for static contacts on every (re)load
      FROM operator;
