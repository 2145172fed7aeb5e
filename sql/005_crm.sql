-- CRM sync (SPEC D1–D5): connections, status mapping, import log, the result outbox.

CREATE TABLE crm_connection (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('leadvertex', 'generic')),
    campaign_id     bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,  -- where its orders are called
    base_url        text NOT NULL DEFAULT '',   -- LeadVertex: https://{project}.leadvertex.ru/api/admin
    token           text NOT NULL DEFAULT '',   -- the CRM's API token; never shown back in full
    inbound_token   text NOT NULL CHECK (length(inbound_token) >= 24),  -- authenticates pushes to us
    pull_interval_s integer NOT NULL DEFAULT 60 CHECK (pull_interval_s BETWEEN 5 AND 86400),
    alert_after_s   integer NOT NULL DEFAULT 300 CHECK (alert_after_s BETWEEN 30 AND 86400),
    key_field       text NOT NULL DEFAULT 'additional25',  -- order field holding the last idempotency key
    default_country text NOT NULL DEFAULT 'RU' CHECK (default_country ~ '^[A-Z]{2}$'),
    order_url_template text NOT NULL DEFAULT '',  -- the order in the CRM's own UI, with {id}
    enabled         boolean NOT NULL DEFAULT true,
    push_enabled    boolean NOT NULL DEFAULT true,
    last_pull_at    timestamptz,
    last_ok_at      timestamptz,
    unreachable_since timestamptz,  -- first failure of the current outage; NULL while reachable
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- orders are upserted by (connection, external id): replays and duplicates change nothing
ALTER TABLE lead ADD COLUMN crm_connection_id bigint REFERENCES crm_connection(id) ON DELETE SET NULL;
ALTER TABLE lead ADD COLUMN crm_status_applied text;  -- the CRM status whose action the lead's state reflects
CREATE UNIQUE INDEX lead_crm_external_uq ON lead (crm_connection_id, external_id) WHERE crm_connection_id IS NOT NULL;

-- each CRM status means call / postpone / hold ("don't touch") / final; NULL: not mapped yet (not imported)
CREATE TABLE crm_status_map (
    connection_id    bigint NOT NULL REFERENCES crm_connection(id) ON DELETE CASCADE,
    status_id        text NOT NULL CHECK (length(status_id) BETWEEN 1 AND 100),
    name             text NOT NULL DEFAULT '',
    status_group     text NOT NULL DEFAULT '',
    action           text CHECK (action IN ('call', 'postpone', 'hold', 'final')),
    postpone_minutes integer NOT NULL DEFAULT 60 CHECK (postpone_minutes BETWEEN 1 AND 525600),
    PRIMARY KEY (connection_id, status_id)
);

-- a wrap-up result becomes a CRM status and a comment (template with {result}, {comment}, ...)
CREATE TABLE crm_result_map (
    connection_id    bigint NOT NULL REFERENCES crm_connection(id) ON DELETE CASCADE,
    result_code      text NOT NULL CHECK (result_code ~ '^[a-z0-9_]{1,40}$'),
    status_id        text,  -- NULL: leave the CRM status as it is, write the comment only
    comment_template text NOT NULL DEFAULT '{result_title}: {comment}' CHECK (length(comment_template) <= 2000),
    PRIMARY KEY (connection_id, result_code)
);

-- one row per pull, file import or inbound push; rejected orders with their reason
CREATE TABLE crm_import_log (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL REFERENCES crm_connection(id) ON DELETE CASCADE,
    source        text NOT NULL CHECK (source IN ('pull', 'file', 'push')),
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    seen          integer NOT NULL DEFAULT 0,
    imported      integer NOT NULL DEFAULT 0,
    updated       integer NOT NULL DEFAULT 0,
    unchanged     integer NOT NULL DEFAULT 0,
    rejected      integer NOT NULL DEFAULT 0,
    rejects       jsonb NOT NULL DEFAULT '[]',  -- [{"external_id"|"line", "reason"}], at most 1000 listed
    error         text   -- the run itself failed (CRM unreachable, bad file)
);
CREATE INDEX crm_import_log_conn_idx ON crm_import_log (connection_id, id DESC);

-- wrap-up results waiting for (or done with) delivery to the CRM
CREATE TABLE crm_outbox (
    id              bigserial PRIMARY KEY,
    connection_id   bigint NOT NULL REFERENCES crm_connection(id) ON DELETE CASCADE,
    attempt_id      bigint NOT NULL UNIQUE REFERENCES attempt(id) ON DELETE CASCADE,
    lead_id         bigint NOT NULL REFERENCES lead(id) ON DELETE CASCADE,
    external_id     text NOT NULL,
    result_code     text,
    operator_comment text NOT NULL DEFAULT '',
    idempotency_key text NOT NULL UNIQUE,
    status_id       text,   -- prepared on the first try and kept, so every re-send is identical
    comment         text,
    prepared        boolean NOT NULL DEFAULT false,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    tries           integer NOT NULL DEFAULT 0,
    next_try_at     timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX crm_outbox_due_idx ON crm_outbox (next_try_at, id) WHERE state = 'pending';
CREATE INDEX crm_outbox_order_idx ON crm_outbox (connection_id, external_id, id) WHERE state = 'pending';

-- "CRM unreachable for longer than X": one open row per outage, closed when the CRM answers again
CREATE TABLE crm_alert (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL REFERENCES crm_connection(id) ON DELETE CASCADE,
    raised_at     timestamptz NOT NULL,
    cleared_at    timestamptz,
    message       text NOT NULL,
    message_ru    text NOT NULL
);
CREATE UNIQUE INDEX crm_alert_open_uq ON crm_alert (connection_id) WHERE cleared_at IS NULL;

-- the wrap-up and its outbox row commit together: the trigger runs inside the engine's statement
CREATE FUNCTION crm_enqueue_result() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm_outbox (connection_id, attempt_id, lead_id, external_id, result_code, operator_comment,
                            idempotency_key, next_try_at)
    SELECT l.crm_connection_id, NEW.id, l.id, l.external_id, NEW.wrap_up_result, coalesce(NEW.wrap_up_comment, ''),
           'dialer-' || NEW.id || '-' || substr(md5(random()::text), 1, 8), NEW.wrap_up_at
      FROM lead l JOIN crm_connection c ON c.id = l.crm_connection_id
     WHERE l.id = NEW.lead_id AND c.push_enabled
    ON CONFLICT (attempt_id) DO NOTHING;
    PERFORM pg_notify('crm_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER attempt_crm_outbox AFTER UPDATE OF wrap_up_at ON attempt
    FOR EACH ROW WHEN (NEW.wrap_up_at IS NOT NULL AND OLD.wrap_up_at IS NULL)
    EXECUTE FUNCTION crm_enqueue_result();
