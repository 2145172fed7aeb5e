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

CREATE OR REPLACE FUNCTION attempt_outcome_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attempt_outcome_count (campaign_id, outcome, attempts) VALUES (NEW.campaign_id, NEW.outcome, 1)
        ON CONFLICT (campaign_id, outcome) DO UPDATE SET attempts = attempt_outcome_count.attempts + 1;
    RETURN NULL;
END $$;

-- an attempt is counted once, when its outcome is first set (an attempt ends once: store.end_attempt)
DROP TRIGGER IF EXISTS attempt_outcome_counted_update ON attempt;
CREATE TRIGGER attempt_outcome_counted_update AFTER UPDATE OF outcome ON attempt
    FOR EACH ROW WHEN (OLD.outcome IS NULL AND NEW.outcome IS NOT NULL)
    EXECUTE FUNCTION attempt_outcome_counted();
DROP TRIGGER IF EXISTS attempt_outcome_counted_insert ON attempt;
CREATE TRIGGER attempt_outcome_counted_insert AFTER INSERT ON attempt
    FOR EACH ROW WHEN (NEW.outcome IS NOT NULL)
    EXECUTE FUNCTION attempt_outcome_counted();

-- the attempts ended before this migration, counted once (a second run finds the rows and keeps them)
INSERT INTO attempt_outcome_count (campaign_id, outcome, attempts)
SELECT campaign_id, outcome, count(*) FROM attempt WHERE outcome IS NOT NULL GROUP BY campaign_id, outcome
    ON CONFLICT (campaign_id, outcome) DO NOTHING;
