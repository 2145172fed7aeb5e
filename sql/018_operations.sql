-- Issue 19 (SPEC K4): what `/metrics` needs that a scrape cannot afford to count from scratch.

-- Ended attempts per campaign and outcome, kept by the attempt's own trigger: a Prometheus counter
-- (`dialer_attempts_total`) read with one small scan at each scrape, where counting the attempt table itself
-- would read every attempt ever made (hundreds of thousands a day at 100 operators) every 15 seconds.
-- One row per (campaign, outcome): the engine's end of an attempt adds one to it in the same transaction, so the
-- counter moves by exactly the attempts ended, never twice, never lost. The row lock it takes lasts only to that
-- commit (a few ms); two operators of one campaign ending calls at the same instant wait that long for each other.
-- The campaign's deletion (and a TRUNCATE of campaign in the tests) takes its rows with it.
CREATE TABLE IF NOT EXISTS attempt_outcome_count (
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    outcome     text NOT NULL,
    attempts    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, outcome)
);

-- Per statement, over its transition tables: a bulk load of many attempts adds to each (campaign, outcome) row
-- once. (Per row, a load of N attempts of one campaign updated the same row N times in one transaction, each update
-- walking the chain of versions the earlier ones left: quadratic, minutes for a few hundred thousand.)
CREATE OR REPLACE FUNCTION attempt_outcome_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO attempt_outcome_count (campaign_id, outcome, attempts)
        SELECT campaign_id, outcome, count(*) FROM new_rows WHERE outcome IS NOT NULL GROUP BY campaign_id, outcome
            ON CONFLICT (campaign_id, outcome) DO UPDATE
            SET attempts = attempt_outcome_count.attempts + EXCLUDED.attempts;
    ELSE  -- an attempt is counted once, when its outcome is first set (an attempt ends once: store.end_attempt)
        INSERT INTO attempt_outcome_count (campaign_id, outcome, attempts)
        SELECT n.campaign_id, n.outcome, count(*)
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE o.outcome IS NULL AND n.outcome IS NOT NULL
         GROUP BY n.campaign_id, n.outcome
            ON CONFLICT (campaign_id, outcome) DO UPDATE
            SET attempts = attempt_outcome_count.attempts + EXCLUDED.attempts;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS attempt_outcome_counted_update ON attempt;
CREATE TRIGGER attempt_outcome_counted_update AFTER UPDATE ON attempt
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_outcome_counted();
DROP TRIGGER IF EXISTS attempt_outcome_counted_insert ON attempt;
CREATE TRIGGER attempt_outcome_counted_insert AFTER INSERT ON attempt REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_outcome_counted();

-- the attempts ended before this migration, counted once (a second run finds the rows and keeps them)
INSERT INTO attempt_outcome_count (campaign_id, outcome, attempts)
SELECT campaign_id, outcome, count(*) FROM attempt WHERE outcome IS NOT NULL GROUP BY campaign_id, outcome
    ON CONFLICT (campaign_id, outcome) DO NOTHING;
