-- The `attempt` live event carries what the supervisor's screen shows of a call it has just heard of — the
-- client's name, the order, manual or not, the moment it was reserved and dialled, an offer still waiting — so
-- that the page needs no read of its own per new call (issue 15, F8). One look-up of the lead by its key.
CREATE OR REPLACE FUNCTION attempt_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who record;
BEGIN
    SELECT name, external_id INTO who FROM lead WHERE id = NEW.lead_id;
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('attempt', 'calls.read', NEW.operator_id,
            json_build_object('id', NEW.id, 'lead_id', NEW.lead_id, 'campaign_id', NEW.campaign_id,
                              'operator_id', NEW.operator_id, 'outcome', NEW.outcome,
                              'answered_at', NEW.answered_at, 'ended_at', NEW.ended_at,
                              'client', who.name, 'order_id', who.external_id, 'manual', NEW.manual,
                              'reserved_at', NEW.reserved_at, 'dial_started_at', NEW.dial_started_at,
                              'offer', NEW.offer_expires_at IS NOT NULL AND NEW.offer_accepted_at IS NULL));
    RETURN NULL;
END $$;
