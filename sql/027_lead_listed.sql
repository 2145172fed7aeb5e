-- «Подходит сейчас» (issue 13) without reading the leads' rows and without looking every lead's number up in the
-- do-not-call list.
--
-- 1. `lead.listed`: the lead's number is on the do-not-call list, kept by triggers on both tables. The editor's
--    count filters on it instead of joining the list (a hash probe per lead: a quarter of the count's time at
--    50,000 leads and a 10,000-number list, bench.campaign_pages). The claim keeps its own look-up of the list
--    (rules/compile.py not_listed): it alone decides whom to call, so a number listed while a lead with it is
--    being written (two transactions that cannot see each other) is still never dialled; such a lead may show
--    in the count until its next write.
-- 2. `lead_count_idx`: every field a count reads, in one index by campaign, so a count whose rule speaks only of
--    them is an index-only scan (rows of 135 bytes instead of ~200 in the heap, and no visit to the heap for pages
--    vacuumed since their last change). A rule on the name, the number, the order id or a CRM attribute reads
--    the rows as before. Fixed-width fields first: each index tuple is read up to the last field the count needs.

ALTER TABLE lead ADD COLUMN IF NOT EXISTS listed boolean NOT NULL DEFAULT false;

-- leads written: one join of the statement's leads with the list (an import of 100,000 leads is one statement;
-- a check per lead in a row trigger added a third to its time)
CREATE OR REPLACE FUNCTION lead_listed_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the leads to correct are found among the statement's own rows (as written), before any lead is read
    UPDATE lead l SET listed = (d.phone IS NOT NULL)
      FROM listed_added a LEFT JOIN do_not_call d ON d.phone = a.phone
     WHERE a.listed IS DISTINCT FROM (d.phone IS NOT NULL) AND l.id = a.id;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_listed_insert ON lead;
CREATE TRIGGER lead_listed_insert AFTER INSERT ON lead REFERENCING NEW TABLE AS listed_added
    FOR EACH STATEMENT EXECUTE FUNCTION lead_listed_added();

-- a lead's number changed, or `listed` set by anyone (the triggers here included): the list decides
CREATE OR REPLACE FUNCTION lead_listed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.listed := EXISTS (SELECT 1 FROM do_not_call WHERE phone = NEW.phone);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS lead_listed ON lead;
CREATE TRIGGER lead_listed BEFORE UPDATE OF phone, listed ON lead
    FOR EACH ROW EXECUTE FUNCTION lead_listed();

-- numbers added to or taken off the list: one UPDATE of the leads with those numbers per statement (a CSV
-- import of 10,000 numbers is one statement), which the trigger above answers from the list as it now is
CREATE OR REPLACE FUNCTION do_not_call_listed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE lead l SET listed = true FROM listed_new n WHERE l.phone = n.phone AND NOT l.listed;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE lead l SET listed = false FROM listed_old o WHERE l.phone = o.phone AND l.listed;
    END IF;
    RETURN NULL;
END $$;

-- by the number's btree index: the trigram index of the search (sql/014) answers `=` too, and the planner chose it,
-- at 9–18 ms a number once an import of leads had filled its pending list (0.01 ms by the btree)
ALTER FUNCTION do_not_call_listed() SET enable_bitmapscan = off;
ALTER FUNCTION lead_listed_added() SET enable_bitmapscan = off;

CREATE OR REPLACE FUNCTION do_not_call_listed_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lead SET listed = false WHERE listed;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS do_not_call_listed_insert ON do_not_call;
CREATE TRIGGER do_not_call_listed_insert AFTER INSERT ON do_not_call REFERENCING NEW TABLE AS listed_new
    FOR EACH STATEMENT EXECUTE FUNCTION do_not_call_listed();
DROP TRIGGER IF EXISTS do_not_call_listed_delete ON do_not_call;
CREATE TRIGGER do_not_call_listed_delete AFTER DELETE ON do_not_call REFERENCING OLD TABLE AS listed_old
    FOR EACH STATEMENT EXECUTE FUNCTION do_not_call_listed();
DROP TRIGGER IF EXISTS do_not_call_listed_update ON do_not_call;
CREATE TRIGGER do_not_call_listed_update AFTER UPDATE ON do_not_call
    REFERENCING OLD TABLE AS listed_old NEW TABLE AS listed_new
    FOR EACH STATEMENT EXECUTE FUNCTION do_not_call_listed();
DROP TRIGGER IF EXISTS do_not_call_listed_truncate ON do_not_call;
CREATE TRIGGER do_not_call_listed_truncate AFTER TRUNCATE ON do_not_call
    FOR EACH STATEMENT EXECUTE FUNCTION do_not_call_listed_truncated();

-- leads written callable wake the engine (sql/026) unless their number is listed: a number put on the list marks
-- its leads, which can bring nothing to call (taking it off wakes the engine through the list's own trigger)
CREATE OR REPLACE FUNCTION engine_leads_wake_callable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM engine_wake_rows WHERE state IN ('new', 'callable') AND NOT listed) THEN
        PERFORM pg_notify('engine_leads', '');
    END IF;
    RETURN NULL;
END $$;

-- the leads already written (once: later writes keep it)
UPDATE lead l SET listed = true FROM do_not_call d WHERE l.phone = d.phone AND NOT l.listed;

CREATE INDEX IF NOT EXISTS lead_count_idx ON lead (campaign_id)
    INCLUDE (listed, attempts, attempts_today, priority, attempts_day, next_call_at, last_attempt_at, created_at,
             birth_date, amount, state, time_zone, region, city, country, product, crm_status);

-- The leads-by-state counts and their live events (sql/020, sql/024) of a statement that updated many leads took
-- time growing with the square of their number: the "did any lead change its campaign or state" check ran as a
-- nested loop over the statement's old and new rows (an EXISTS is planned to stop at its first row, which never
-- comes when none moved): 1.1 s for 2,500 leads, 4.1 s for 5,000 — a do-not-call import marking its leads, a bulk
-- change of leads. The moved leads are now found by the one grouped join that counts them (a hash join), and a
-- statement that moved none ends there, as before.
CREATE OR REPLACE FUNCTION campaign_lead_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cs bigint[];   -- the statement's net change, by (campaign, state): campaigns ...
    ss text[];     -- ... states ...
    ns bigint[];   -- ... and signed counts
    touched bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(campaign_id), array_agg(state), array_agg(n) INTO cs, ss, ns
          FROM (SELECT campaign_id, state, count(*) AS n FROM new_rows GROUP BY campaign_id, state) d;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(campaign_id), array_agg(state), array_agg(n) INTO cs, ss, ns
          FROM (SELECT campaign_id, state, -count(*) AS n FROM old_rows GROUP BY campaign_id, state) d;
    ELSE
        SELECT array_agg(campaign_id), array_agg(state), array_agg(n) INTO cs, ss, ns
          FROM (SELECT x.campaign_id, x.state, sum(x.d)::bigint AS n
                  FROM old_rows o JOIN new_rows n ON n.id = o.id
                 CROSS JOIN LATERAL (VALUES (o.campaign_id, o.state, -1), (n.campaign_id, n.state, 1))
                       AS x (campaign_id, state, d)
                 WHERE (o.campaign_id, o.state) IS DISTINCT FROM (n.campaign_id, n.state)
                 GROUP BY x.campaign_id, x.state HAVING sum(x.d) <> 0) d;
    END IF;
    IF cs IS NULL THEN
        RETURN NULL;  -- nothing moved between states (or campaigns)
    END IF;
    WITH d AS (
        SELECT * FROM unnest(cs, ss, ns) AS d (campaign_id, state, n)
    ), added AS (
        INSERT INTO campaign_lead_count (campaign_id, state, leads) SELECT campaign_id, state, n FROM d
        RETURNING campaign_id
    ), ev AS (
        INSERT INTO live_event (kind, permission, data)
        SELECT 'lead.counts', 'campaigns.read',
               jsonb_build_object('campaign_id', campaign_id, 'leads', jsonb_object_agg(state, n))
          FROM d GROUP BY campaign_id
    )
    SELECT array_agg(DISTINCT campaign_id) INTO touched FROM added;
    -- under REPEATABLE READ a row another transaction folded since the snapshot would fail the statement
    -- (a serialization error): such a writer only adds its rows, the next one folds them
    IF current_setting('transaction_isolation') = 'read committed' THEN
        PERFORM campaign_lead_count_fold(touched);
    END IF;
    RETURN NULL;
END $$;
