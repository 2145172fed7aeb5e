-- Why the engine paused an operator (sql/021: their Asterisk server was lost) reaches the pages with the operator's
-- status: the `operator.status` live event carries `pause_reason`, and a reason noted after the status change (the
-- engine writes it behind the status) sends the event again with the same status and its reason.
CREATE OR REPLACE FUNCTION operator_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('operator.status', 'operators.read', NEW.id,
            json_build_object('id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                              'since', NEW.status_since, 'attempt_id', NEW.attempt_id,
                              'pause_reason', NEW.pause_reason));
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS operator_live_event_reason ON operator;
CREATE TRIGGER operator_live_event_reason AFTER UPDATE OF pause_reason ON operator
    FOR EACH ROW WHEN (OLD.status IS NOT DISTINCT FROM NEW.status AND NEW.pause_reason IS NOT NULL
                       AND OLD.pause_reason IS DISTINCT FROM NEW.pause_reason)
    EXECUTE FUNCTION operator_live_event();
