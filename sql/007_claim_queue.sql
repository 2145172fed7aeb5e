-- The claim queue (SPEC C1, C4): each selection's next eligible leads in its order, found ahead of the
-- claims by a job (rules/queue.py), so a claim never walks past the leads its selection does not match.
-- The queue only orders: the claim checks every queued lead against the whole rule again, in the
-- statement that locks it. Derived data, rebuilt every few seconds: UNLOGGED (no WAL; empty after a crash,
-- and an empty or stale queue sends the claim the direct way).

CREATE UNLOGGED TABLE claim_queue (
    selection_id bigint  NOT NULL,
    version      integer NOT NULL,  -- the selection's version the leads were found under
    rank         integer NOT NULL,  -- 1 = first in the selection's order at the fill
    lead_id      bigint  NOT NULL,
    PRIMARY KEY (selection_id, version, rank)
);
-- a claimed lead leaves every queue at once (the attempt-opening statement deletes it)
CREATE INDEX claim_queue_lead_idx ON claim_queue (lead_id);

-- one row per selection: when it was last filled and whether every eligible lead fitted
CREATE UNLOGGED TABLE claim_queue_fill (
    selection_id bigint      PRIMARY KEY,
    version      integer     NOT NULL,
    filled_at    timestamptz NOT NULL,
    found        integer     NOT NULL,
    complete     boolean     NOT NULL   -- fewer than the queue's size were eligible: none was left out
);

-- leads added to a campaign: its queues are no longer trusted, so claims take the direct way (and see the
-- new leads at once) until the job fills them again
CREATE FUNCTION claim_queue_leads_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claim_queue_fill f USING selection s
     WHERE s.id = f.selection_id AND s.campaign_id IN (SELECT DISTINCT campaign_id FROM added);
    RETURN NULL;
END $$;
CREATE TRIGGER lead_claim_queue_added AFTER INSERT ON lead REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION claim_queue_leads_added();

-- a deleted selection leaves no queue behind
CREATE FUNCTION claim_queue_selection_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claim_queue WHERE selection_id = OLD.id;
    DELETE FROM claim_queue_fill WHERE selection_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER selection_claim_queue_gone AFTER DELETE ON selection
    FOR EACH ROW EXECUTE FUNCTION claim_queue_selection_gone();
