-- Operator panel (SPEC B4, B5, E1–E6): auto-answer per operator, offers that wait for «Ответить»,
-- missed offers that pause an operator and alert the supervisor, manual dial outside the queue.

ALTER TABLE campaign
    -- an offer not accepted within this time counts as missed (operators without auto-answer)
    ADD COLUMN operator_answer_timeout_s integer NOT NULL DEFAULT 15
               CHECK (operator_answer_timeout_s BETWEEN 3 AND 600),
    -- this many missed offers in a row pause the operator and alert the supervisor
    ADD COLUMN missed_offers_limit integer NOT NULL DEFAULT 3 CHECK (missed_offers_limit BETWEEN 1 AND 100),
    -- link to an order in the CRM; `{external_id}` is replaced by the lead's order id
    ADD COLUMN order_url_template text NOT NULL DEFAULT ''
               CHECK (order_url_template = '' OR order_url_template ~ '^https?://');

ALTER TABLE operator
    ADD COLUMN auto_answer   boolean NOT NULL DEFAULT true,  -- the softphone picks up by itself
    ADD COLUMN missed_offers integer NOT NULL DEFAULT 0;     -- missed offers in a row (reset on «Ответить»)

ALTER TABLE attempt
    ADD COLUMN manual            boolean NOT NULL DEFAULT false,  -- dialled by the operator, outside the queue
    ADD COLUMN offer_expires_at  timestamptz,  -- the offer waits for «Ответить» until then
    ADD COLUMN offer_accepted_at timestamptz;  -- «Ответить» pressed

-- Offers an operator did not accept in time: the lead went back to the queue unchanged (the client was
-- never dialled, so it is not an attempt with an outcome); kept for the supervisor and reports.
CREATE TABLE missed_offer (
    id          bigserial PRIMARY KEY,
    operator_id bigint NOT NULL REFERENCES operator(id) ON DELETE CASCADE,
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    lead_id     bigint NOT NULL REFERENCES lead(id) ON DELETE CASCADE,
    offered_at  timestamptz NOT NULL,
    missed_at   timestamptz NOT NULL
);
CREATE INDEX missed_offer_operator_idx ON missed_offer (operator_id, missed_at);

-- Supervisor alerts (shown by the supervisor panel until acknowledged).
CREATE TABLE alert (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    campaign_id     bigint REFERENCES campaign(id) ON DELETE CASCADE,
    operator_id     bigint REFERENCES operator(id) ON DELETE CASCADE,
    text_ru         text NOT NULL CHECK (length(text_ru) BETWEEN 1 AND 2000),
    text_en         text NOT NULL CHECK (length(text_en) BETWEEN 1 AND 2000),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    acknowledged_at timestamptz
);
CREATE INDEX alert_open_idx ON alert (created_at) WHERE acknowledged_at IS NULL;
CREATE TRIGGER alert_event_notify AFTER INSERT OR UPDATE OF acknowledged_at ON alert
    FOR EACH ROW EXECUTE FUNCTION dialer_event_notify();

-- Live events for the panel (web/live.py). The panel follows the web foundation's own events about its
-- operator (`operator.status` on a status change, `attempt` on a new call, its answer and its end) and
-- `panel.changed` for everything else it shows: the call changing without a status change, auto-answer,
-- missed offers, and the rest of the call's timeline. No permission opens `panel.changed` (''): only the
-- operator it concerns receives it (dialer.access.sees_event). The new facts ride along, so the panel
-- reads its whole state only for a new call.
CREATE FUNCTION panel_live_event(operator_id bigint, what text, attempt_id bigint, facts jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('panel.changed', '', operator_id,
            jsonb_build_object('operator_id', operator_id, 'what', what, 'attempt_id', attempt_id, what, facts));
$$;

CREATE FUNCTION operator_panel_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IS NOT DISTINCT FROM NEW.status  -- a status change has its own event, with the call
       AND (OLD.attempt_id, OLD.auto_answer, OLD.missed_offers)
           IS DISTINCT FROM (NEW.attempt_id, NEW.auto_answer, NEW.missed_offers) THEN
        PERFORM panel_live_event(NEW.id, 'operator', NEW.attempt_id, jsonb_build_object(
            'status', NEW.status, 'status_since', NEW.status_since, 'auto_answer', NEW.auto_answer,
            'missed_offers', NEW.missed_offers));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER operator_panel_live_event AFTER UPDATE OF attempt_id, auto_answer, missed_offers ON operator
    FOR EACH ROW EXECUTE FUNCTION operator_panel_live_event();

CREATE FUNCTION attempt_panel_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.operator_id IS NOT NULL THEN
        PERFORM panel_live_event(NEW.operator_id, 'attempt', NEW.id, jsonb_build_object(
            'offer_expires_at', NEW.offer_expires_at, 'offer_accepted_at', NEW.offer_accepted_at,
            'dial_started_at', NEW.dial_started_at, 'answered_at', NEW.answered_at, 'bridged_at', NEW.bridged_at,
            'ended_at', NEW.ended_at, 'outcome', NEW.outcome, 'wrap_up_at', NEW.wrap_up_at));
    END IF;
    RETURN NULL;
END $$;
-- (answered_at and the end: the web foundation's `attempt` event)
CREATE TRIGGER attempt_panel_live_event
    AFTER UPDATE OF offer_expires_at, offer_accepted_at, dial_started_at, bridged_at, wrap_up_at
    ON attempt FOR EACH ROW EXECUTE FUNCTION attempt_panel_live_event();

CREATE FUNCTION alert_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('alert', 'supervisor.view', NULL,
            json_build_object('id', NEW.id, 'kind', NEW.kind, 'campaign_id', NEW.campaign_id,
                              'operator_id', NEW.operator_id, 'text_ru', NEW.text_ru, 'text_en', NEW.text_en,
                              'acknowledged_at', NEW.acknowledged_at));
    RETURN NULL;
END $$;
CREATE TRIGGER alert_live_event AFTER INSERT OR UPDATE OF acknowledged_at ON alert
    FOR EACH ROW EXECUTE FUNCTION alert_live_event();

-- the engine's new commands: accept an offer, manual dial, switch auto-answer
ALTER TABLE engine_command DROP CONSTRAINT engine_command_kind_check;
ALTER TABLE engine_command ADD CONSTRAINT engine_command_kind_check
    CHECK (kind IN ('ready', 'pause', 'lunch', 'wrap_up', 'hangup', 'answer', 'dial', 'auto_answer'));
