-- The supervisor's live screen (SPEC F1–F4, F7, F8; issue 15): who acknowledged an alert, and the live
-- events the screen needs beyond the web foundation's `operator.status` and `attempt`.

-- F3: an alert is acknowledged by a person; who and when are kept (the audit log has the rest)
ALTER TABLE alert
    ADD COLUMN acknowledged_by      bigint REFERENCES app_user(id) ON DELETE SET NULL,
    ADD COLUMN acknowledged_by_name text CHECK (length(acknowledged_by_name) <= 200);  -- the name at that moment

-- Alerts go to those who may see and acknowledge them (`supervisor.alerts`; the read-only tester holds
-- `supervisor.view` only), with what the screen shows: when, and who acknowledged it.
CREATE OR REPLACE FUNCTION alert_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('alert', 'supervisor.alerts', NULL,
            json_build_object('id', NEW.id, 'kind', NEW.kind, 'campaign_id', NEW.campaign_id,
                              'operator_id', NEW.operator_id, 'text_ru', NEW.text_ru, 'text_en', NEW.text_en,
                              'created_at', NEW.created_at, 'acknowledged_at', NEW.acknowledged_at,
                              'acknowledged_by_name', NEW.acknowledged_by_name));
    RETURN NULL;
END $$;

-- F2, F4: a campaign paused or resumed (by anyone, any door) reaches the screen
CREATE FUNCTION campaign_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('campaign', 'supervisor.view', NULL,
            json_build_object('id', NEW.id, 'name', NEW.name, 'active', NEW.active));
    RETURN NULL;
END $$;
CREATE TRIGGER campaign_live_event AFTER UPDATE OF active ON campaign
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active) EXECUTE FUNCTION campaign_live_event();

-- An offer withdrawn before anyone was dialled deletes its attempt (ari_app/offer_store.py): without this
-- the screen would keep counting it as a call in progress.
CREATE FUNCTION attempt_gone_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('attempt.gone', 'calls.read', OLD.operator_id,
            json_build_object('id', OLD.id, 'campaign_id', OLD.campaign_id, 'operator_id', OLD.operator_id));
    RETURN NULL;
END $$;
CREATE TRIGGER attempt_gone_live_event AFTER DELETE ON attempt
    FOR EACH ROW EXECUTE FUNCTION attempt_gone_live_event();

-- today's figures (per operator, per campaign) read the attempts that ended since midnight
CREATE INDEX attempt_ended_at_idx ON attempt (ended_at) WHERE ended_at IS NOT NULL;
