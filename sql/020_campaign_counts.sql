-- «Кампании» (issue 13): the list's leads by state per campaign, kept by the lead's own triggers, so the page reads
-- a few small rows instead of counting a million leads (bench.campaign_pages: 612 ms at 1,000,000 leads, growing
-- with them).
--
-- The table holds signed contributions, not one total per (campaign, state): a writer only ever INSERTs its
-- statement's net change, so two writers of one campaign (two operators' claims, a CRM pull of 1,000 orders beside
-- them) never wait for each other on a shared counter row. The count is the sum of a campaign's rows. Each writer
-- then folds the rows of its campaigns it can lock into one row per state (`FOR UPDATE SKIP LOCKED`: the rows of
-- transactions still running are left to a later writer, never waited for), so a campaign keeps about as many rows
-- as it has states and writers in flight. A reader sees committed rows only: the fold's deletions and its sum
-- arrive together, at its commit.
CREATE TABLE IF NOT EXISTS campaign_lead_count (
    campaign_id bigint NOT NULL,   -- no foreign key: the leads' own triggers keep it, the campaign's leads go first
    state       text NOT NULL,
    leads       bigint NOT NULL    -- a signed contribution: + leads that came into the state, - those that left
);
CREATE INDEX IF NOT EXISTS campaign_lead_count_campaign_idx ON campaign_lead_count (campaign_id);

-- one campaign's rows folded into one row per state (rows whose sum is 0 disappear)
CREATE OR REPLACE FUNCTION campaign_lead_count_fold(campaigns bigint[]) RETURNS void LANGUAGE sql AS $$
    WITH mine AS (
        SELECT ctid FROM campaign_lead_count WHERE campaign_id = ANY(campaigns) FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM campaign_lead_count c USING mine WHERE c.ctid = mine.ctid
        RETURNING c.campaign_id, c.state, c.leads
    )
    INSERT INTO campaign_lead_count (campaign_id, state, leads)
    SELECT campaign_id, state, sum(leads) FROM gone GROUP BY campaign_id, state HAVING sum(leads) <> 0
$$;

-- Statement triggers with transition tables (like sql/017 and sql/018): one grouped insert per statement,
-- whatever the number of leads it wrote (a COPY or an INSERT … SELECT of 100,000 leads adds one row per state).
-- Most updates of a lead (attempt counters, next call time, CRM fields) change neither its state nor its
-- campaign and end at the first check.
CREATE OR REPLACE FUNCTION campaign_lead_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH added AS (
            INSERT INTO campaign_lead_count (campaign_id, state, leads)
            SELECT campaign_id, state, count(*) FROM new_rows GROUP BY campaign_id, state
            RETURNING campaign_id)
        SELECT array_agg(DISTINCT campaign_id) INTO touched FROM added;
    ELSIF TG_OP = 'DELETE' THEN
        WITH removed AS (
            INSERT INTO campaign_lead_count (campaign_id, state, leads)
            SELECT campaign_id, state, -count(*) FROM old_rows GROUP BY campaign_id, state
            RETURNING campaign_id)
        SELECT array_agg(DISTINCT campaign_id) INTO touched FROM removed;
    ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                   WHERE (o.campaign_id, o.state) IS DISTINCT FROM (n.campaign_id, n.state)) THEN
        WITH moved AS (
            INSERT INTO campaign_lead_count (campaign_id, state, leads)
            SELECT campaign_id, state, sum(d) FROM (
                SELECT x.campaign_id, x.state, x.d
                  FROM old_rows o JOIN new_rows n ON n.id = o.id
                 CROSS JOIN LATERAL (VALUES (o.campaign_id, o.state, -1), (n.campaign_id, n.state, 1))
                       AS x (campaign_id, state, d)
                 WHERE (o.campaign_id, o.state) IS DISTINCT FROM (n.campaign_id, n.state)) s
             GROUP BY campaign_id, state HAVING sum(d) <> 0
            RETURNING campaign_id)
        SELECT array_agg(DISTINCT campaign_id) INTO touched FROM moved;
    END IF;
    -- under REPEATABLE READ a row another transaction folded since the snapshot would fail the statement
    -- (a serialization error): such a writer only adds its rows, the next one folds them
    IF touched IS NOT NULL AND current_setting('transaction_isolation') = 'read committed' THEN
        PERFORM campaign_lead_count_fold(touched);
    END IF;
    RETURN NULL;
END $$;

-- DELETE, not TRUNCATE: a TRUNCATE inside a TRUNCATE's trigger fails ("being used by active queries")
CREATE OR REPLACE FUNCTION campaign_lead_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM campaign_lead_count;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS campaign_lead_count_insert ON lead;
CREATE TRIGGER campaign_lead_count_insert AFTER INSERT ON lead REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaign_lead_count_changed();
DROP TRIGGER IF EXISTS campaign_lead_count_update ON lead;
CREATE TRIGGER campaign_lead_count_update AFTER UPDATE ON lead REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaign_lead_count_changed();
DROP TRIGGER IF EXISTS campaign_lead_count_delete ON lead;
CREATE TRIGGER campaign_lead_count_delete AFTER DELETE ON lead REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaign_lead_count_changed();
DROP TRIGGER IF EXISTS campaign_lead_count_truncate ON lead;
CREATE TRIGGER campaign_lead_count_truncate AFTER TRUNCATE ON lead
    FOR EACH STATEMENT EXECUTE FUNCTION campaign_lead_count_truncated();

-- The backfill: the leads counted afresh (idempotent: the rows are replaced, never added to). The triggers above
-- were created first in this same transaction, and CREATE TRIGGER locks out writers of `lead` until it commits,
-- so no lead is counted twice or missed.
DELETE FROM campaign_lead_count;
INSERT INTO campaign_lead_count (campaign_id, state, leads)
SELECT campaign_id, state, count(*) FROM lead GROUP BY campaign_id, state;
