-- Issue 15 («Мониторинг», F3) and issue 19 (health): the state the engine, AGI and the jobs report for other
-- processes, and alerts a job raises once per cause and object. (The operators' status history the screen's
-- time-in-status shares read is `operator_status_log`, sql/010_reports.sql.)

-- ---- health: what the engine and AGI report for other processes ------------------------------------------------
-- One row per part and object: the engine per Asterisk server (ARI connected, since when, reconnects today,
-- writes waiting), AGI per listening address. Written every few seconds and at each change (dialer/heartbeat.py);
-- `updated_at` is the database's clock, so a reader judges freshness without trusting another machine's clock.
CREATE TABLE component_health (
    component        text NOT NULL CHECK (component IN ('engine', 'agi')),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    host             text NOT NULL DEFAULT '',
    pid              integer,
    started_at       timestamptz NOT NULL,  -- the process's start
    ok               boolean NOT NULL,      -- engine: ARI connected; agi: listening
    state_since      timestamptz NOT NULL,  -- ok (or not) since then
    reconnects_today integer NOT NULL DEFAULT 0,
    write_backlog    integer NOT NULL DEFAULT 0,
    detail           jsonb NOT NULL DEFAULT '{}',
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (component, name)
);

-- Each background job's runs (dialer/jobs.py records them from one wrapper around every scheduled job).
CREATE TABLE job_run (
    job                  text PRIMARY KEY CHECK (length(job) BETWEEN 1 AND 100),
    interval_s           double precision,
    next_run_at          timestamptz,
    last_started_at      timestamptz,
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    last_error           text,
    runs                 bigint NOT NULL DEFAULT 0,
    failures             bigint NOT NULL DEFAULT 0,
    consecutive_failures integer NOT NULL DEFAULT 0,
    failures_today       integer NOT NULL DEFAULT 0,
    failures_day         date,
    updated_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- ---- F3: alerts a job raises (dialer/services/alerts.py) ----------------------------------------------------
-- One alert per cause and object while the cause lasts: `object_key` names the object ('campaign:3',
-- 'crm_connection:2'), `cleared_at` is when the cause went away by itself. A person still acknowledges it.
ALTER TABLE alert
    ADD COLUMN object_key text CHECK (length(object_key) <= 100),
    ADD COLUMN cleared_at timestamptz;
CREATE UNIQUE INDEX alert_cause_open_uq ON alert (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL;

-- the alert's live event also says when its cause cleared
CREATE OR REPLACE FUNCTION alert_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('alert', 'supervisor.alerts', NULL,
            json_build_object('id', NEW.id, 'kind', NEW.kind, 'campaign_id', NEW.campaign_id,
                              'operator_id', NEW.operator_id, 'text_ru', NEW.text_ru, 'text_en', NEW.text_en,
                              'created_at', NEW.created_at, 'acknowledged_at', NEW.acknowledged_at,
                              'acknowledged_by_name', NEW.acknowledged_by_name, 'cleared_at', NEW.cleared_at));
    RETURN NULL;
END $$;
DROP TRIGGER alert_live_event ON alert;
CREATE TRIGGER alert_live_event AFTER INSERT OR UPDATE OF acknowledged_at, cleared_at ON alert
    FOR EACH ROW EXECUTE FUNCTION alert_live_event();
