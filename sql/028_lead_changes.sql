-- What changed among a campaign's leads since a moment, for the web's in-memory copy of the fields a rule reads
-- (rules/lead_cache.py): «Подходит сейчас» counts a draft rule over that copy, and before each count reads only
-- what was written since its last read.
--
-- 1. `lead.changed_xid`: the transaction that last wrote the lead (set on every insert and update). A reader that
--    took its snapshot with `pg_snapshot_xmin` = X has seen every change of a transaction below X, so it next
--    reads the leads with `changed_xid >= X`: a write that was under way at its last read is read again, never
--    missed, whichever of the two committed first.
-- 2. `lead_gone`: leads that left a campaign (deleted, or moved to another) with the transaction that took them
--    out, and a row with no campaign for a TRUNCATE (everything gone: the copies are read again whole). Kept a
--    day: a copy not read for that long is read whole (lead_cache.STALE_AFTER is far shorter).

ALTER TABLE lead ADD COLUMN IF NOT EXISTS changed_xid xid8;

CREATE OR REPLACE FUNCTION lead_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS lead_changed ON lead;
CREATE TRIGGER lead_changed BEFORE INSERT OR UPDATE ON lead FOR EACH ROW EXECUTE FUNCTION lead_changed();

CREATE INDEX IF NOT EXISTS lead_changed_idx ON lead (campaign_id, changed_xid);

CREATE TABLE IF NOT EXISTS lead_gone (
    id          bigserial PRIMARY KEY,
    campaign_id bigint,              -- NULL with lead_id NULL: the table was truncated
    lead_id     bigint,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS lead_gone_xid_idx ON lead_gone (xid);
CREATE INDEX IF NOT EXISTS lead_gone_at_idx ON lead_gone (at);

-- deleted leads: one INSERT … SELECT per statement (deleting a campaign deletes its leads in one statement)
CREATE OR REPLACE FUNCTION lead_gone_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_gone (campaign_id, lead_id) SELECT campaign_id, id FROM gone_rows;
    DELETE FROM lead_gone WHERE at < now() - interval '1 day';
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_gone_deleted ON lead;
CREATE TRIGGER lead_gone_deleted AFTER DELETE ON lead REFERENCING OLD TABLE AS gone_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lead_gone_deleted();

-- a lead moved to another campaign (rare: a row trigger that fires only then)
CREATE OR REPLACE FUNCTION lead_gone_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_gone (campaign_id, lead_id) VALUES (OLD.campaign_id, OLD.id);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_gone_moved ON lead;
CREATE TRIGGER lead_gone_moved AFTER UPDATE OF campaign_id ON lead
    FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION lead_gone_moved();

CREATE OR REPLACE FUNCTION lead_gone_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_gone (campaign_id, lead_id) VALUES (NULL, NULL);
    DELETE FROM lead_gone WHERE at < now() - interval '1 day';
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_gone_truncated ON lead;
CREATE TRIGGER lead_gone_truncated AFTER TRUNCATE ON lead FOR EACH STATEMENT EXECUTE FUNCTION lead_gone_truncated();
