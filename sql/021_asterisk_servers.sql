-- Issue 19 (SPEC A5): operators on several Asterisk servers.
--
-- An operator belongs to the server their SIP device registers to: the engine calls the operator's softphone and
-- their clients through that server (ari_app/engine.py). The device is where an administrator chooses the server
-- («Телефония», dialer/services/devices.py), so the operator's `server` follows their device's, in the same
-- transaction, whoever changes it (page, API, CSV import).
CREATE OR REPLACE FUNCTION operator_server_follows_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE operator SET server = NEW.server WHERE id = NEW.operator_id AND server IS DISTINCT FROM NEW.server;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS sip_device_server ON sip_device;
CREATE TRIGGER sip_device_server AFTER INSERT OR UPDATE OF server, operator_id ON sip_device
    FOR EACH ROW WHEN (NEW.operator_id IS NOT NULL) EXECUTE FUNCTION operator_server_follows_device();
UPDATE operator o SET server = d.server FROM sip_device d WHERE d.operator_id = o.id AND o.server <> d.server;

-- Why the engine paused an operator (their Asterisk server was lost), for the supervisor and the reports; empty
-- when the operator paused themselves. Cleared by the first status the operator works in again.
ALTER TABLE operator ADD COLUMN IF NOT EXISTS pause_reason text CHECK (length(pause_reason) <= 500);
CREATE OR REPLACE FUNCTION operator_pause_reason_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.pause_reason := NULL;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS operator_pause_reason ON operator;
CREATE TRIGGER operator_pause_reason BEFORE UPDATE OF status ON operator
    FOR EACH ROW WHEN (NEW.pause_reason IS NOT NULL AND NEW.status NOT IN ('paused', 'wrap_up'))
    EXECUTE FUNCTION operator_pause_reason_cleared();
