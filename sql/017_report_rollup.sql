-- Reports read an hourly rollup of the ended attempts instead of the attempts themselves (issue 17; SPEC G1–G4).
--
-- One row per UTC hour in which attempts ended × campaign × operator × selection, with the count of each of the six
-- outcomes (one column each: a month of a 100-operator centre is ~72,000 rows, not six times as many), the talk time
-- of the ANSWERED ones, and the wrap-up time per outcome (an outcome filter must see only its own wrap-ups). Talk
-- and wrap-up are kept in whole microseconds (bigint: timestamps have microsecond resolution, so nothing is rounded
-- and the sums are exact — a report from the rollup equals the same report counted over `attempt` to the
-- microsecond — and integers are cheaper to add up than numeric).
--
-- Kept current transactionally, by a trigger on `attempt`, in the writer's own transaction: an attempt that ends, is
-- wrapped up, re-classified (reconciliation after a restart), moved (its selection deleted) or removed changes its
-- hour's row before it commits, so a report never lags behind the attempts and never needs a watermark or a
-- catch-up job (see docs/reports.md, "How it is computed"). Each operator's attempts go to that operator's own rows,
-- so the engine's per-operator writers do not wait for one another.
CREATE TABLE IF NOT EXISTS report_rollup (
    hour            timestamptz NOT NULL,   -- date_trunc('hour', ended_at, 'UTC')
    campaign_id     bigint NOT NULL,
    operator_id     bigint,
    selection_id    bigint,
    n_answered      integer NOT NULL DEFAULT 0,
    n_no_answer     integer NOT NULL DEFAULT 0,
    n_busy          integer NOT NULL DEFAULT 0,
    n_rejected      integer NOT NULL DEFAULT 0,
    n_lost          integer NOT NULL DEFAULT 0,
    n_error         integer NOT NULL DEFAULT 0,
    talk_n          integer NOT NULL DEFAULT 0,      -- ANSWERED attempts with a bridge or answer stamp
    talk_us         bigint NOT NULL DEFAULT 0,
    wrap_n_answered integer NOT NULL DEFAULT 0, wrap_us_answered bigint NOT NULL DEFAULT 0,
    wrap_n_no_answer integer NOT NULL DEFAULT 0, wrap_us_no_answer bigint NOT NULL DEFAULT 0,
    wrap_n_busy     integer NOT NULL DEFAULT 0, wrap_us_busy bigint NOT NULL DEFAULT 0,
    wrap_n_rejected integer NOT NULL DEFAULT 0, wrap_us_rejected bigint NOT NULL DEFAULT 0,
    wrap_n_lost     integer NOT NULL DEFAULT 0, wrap_us_lost bigint NOT NULL DEFAULT 0,
    wrap_n_error    integer NOT NULL DEFAULT 0, wrap_us_error bigint NOT NULL DEFAULT 0,
    CONSTRAINT report_rollup_key UNIQUE NULLS NOT DISTINCT (hour, campaign_id, operator_id, selection_id)
) WITH (fillfactor = 80);  -- room for HOT updates of the current hour's rows

-- One attempt's contribution (sign +1 or -1) added to its hour's row. Not ended: nothing.
CREATE OR REPLACE FUNCTION report_rollup_add(a attempt, sign integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    o    text := a.outcome;
    talk bigint := CASE WHEN a.outcome = 'ANSWERED'
                        THEN (extract(epoch FROM a.ended_at - coalesce(a.bridged_at, a.answered_at)) * 1000000)::bigint END;
    wrap bigint := (extract(epoch FROM a.wrap_up_at - a.ended_at) * 1000000)::bigint;
    wn   integer := sign * (wrap IS NOT NULL)::int;
    ws   bigint := sign * coalesce(wrap, 0);
BEGIN
    IF a.ended_at IS NULL OR o IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO report_rollup AS r (
        hour, campaign_id, operator_id, selection_id,
        n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error, talk_n, talk_us,
        wrap_n_answered, wrap_us_answered, wrap_n_no_answer, wrap_us_no_answer, wrap_n_busy, wrap_us_busy,
        wrap_n_rejected, wrap_us_rejected, wrap_n_lost, wrap_us_lost, wrap_n_error, wrap_us_error)
    VALUES (
        date_trunc('hour', a.ended_at, 'UTC'), a.campaign_id, a.operator_id, a.selection_id,
        sign * (o = 'ANSWERED')::int, sign * (o = 'NO_ANSWER')::int, sign * (o = 'BUSY')::int,
        sign * (o = 'REJECTED')::int, sign * (o = 'LOST')::int, sign * (o = 'ERROR')::int,
        sign * (talk IS NOT NULL)::int, sign * coalesce(talk, 0),
        CASE WHEN o = 'ANSWERED' THEN wn ELSE 0 END, CASE WHEN o = 'ANSWERED' THEN ws ELSE 0 END,
        CASE WHEN o = 'NO_ANSWER' THEN wn ELSE 0 END, CASE WHEN o = 'NO_ANSWER' THEN ws ELSE 0 END,
        CASE WHEN o = 'BUSY' THEN wn ELSE 0 END, CASE WHEN o = 'BUSY' THEN ws ELSE 0 END,
        CASE WHEN o = 'REJECTED' THEN wn ELSE 0 END, CASE WHEN o = 'REJECTED' THEN ws ELSE 0 END,
        CASE WHEN o = 'LOST' THEN wn ELSE 0 END, CASE WHEN o = 'LOST' THEN ws ELSE 0 END,
        CASE WHEN o = 'ERROR' THEN wn ELSE 0 END, CASE WHEN o = 'ERROR' THEN ws ELSE 0 END)
    ON CONFLICT ON CONSTRAINT report_rollup_key DO UPDATE SET
        n_answered = r.n_answered + EXCLUDED.n_answered, n_no_answer = r.n_no_answer + EXCLUDED.n_no_answer,
        n_busy = r.n_busy + EXCLUDED.n_busy, n_rejected = r.n_rejected + EXCLUDED.n_rejected,
        n_lost = r.n_lost + EXCLUDED.n_lost, n_error = r.n_error + EXCLUDED.n_error,
        talk_n = r.talk_n + EXCLUDED.talk_n, talk_us = r.talk_us + EXCLUDED.talk_us,
        wrap_n_answered = r.wrap_n_answered + EXCLUDED.wrap_n_answered,
        wrap_us_answered = r.wrap_us_answered + EXCLUDED.wrap_us_answered,
        wrap_n_no_answer = r.wrap_n_no_answer + EXCLUDED.wrap_n_no_answer,
        wrap_us_no_answer = r.wrap_us_no_answer + EXCLUDED.wrap_us_no_answer,
        wrap_n_busy = r.wrap_n_busy + EXCLUDED.wrap_n_busy, wrap_us_busy = r.wrap_us_busy + EXCLUDED.wrap_us_busy,
        wrap_n_rejected = r.wrap_n_rejected + EXCLUDED.wrap_n_rejected,
        wrap_us_rejected = r.wrap_us_rejected + EXCLUDED.wrap_us_rejected,
        wrap_n_lost = r.wrap_n_lost + EXCLUDED.wrap_n_lost, wrap_us_lost = r.wrap_us_lost + EXCLUDED.wrap_us_lost,
        wrap_n_error = r.wrap_n_error + EXCLUDED.wrap_n_error, wrap_us_error = r.wrap_us_error + EXCLUDED.wrap_us_error;
END $$;

CREATE OR REPLACE FUNCTION report_rollup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM report_rollup_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM report_rollup_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

-- the rollup rebuilt from the attempts in one set-based statement: the backfill below, and bulk loads that
-- write attempts with the triggers off (bench/reports.py)
CREATE OR REPLACE FUNCTION report_rollup_rebuild() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    made bigint;
BEGIN
    DELETE FROM report_rollup;
    INSERT INTO report_rollup (
        hour, campaign_id, operator_id, selection_id,
        n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error, talk_n, talk_us,
        wrap_n_answered, wrap_us_answered, wrap_n_no_answer, wrap_us_no_answer, wrap_n_busy, wrap_us_busy,
        wrap_n_rejected, wrap_us_rejected, wrap_n_lost, wrap_us_lost, wrap_n_error, wrap_us_error)
    SELECT hour, campaign_id, operator_id, selection_id,
           count(*) FILTER (WHERE o = 'ANSWERED'), count(*) FILTER (WHERE o = 'NO_ANSWER'),
           count(*) FILTER (WHERE o = 'BUSY'), count(*) FILTER (WHERE o = 'REJECTED'),
           count(*) FILTER (WHERE o = 'LOST'), count(*) FILTER (WHERE o = 'ERROR'),
           count(talk), coalesce(sum(talk), 0),
           count(wrap) FILTER (WHERE o = 'ANSWERED'), coalesce(sum(wrap) FILTER (WHERE o = 'ANSWERED'), 0),
           count(wrap) FILTER (WHERE o = 'NO_ANSWER'), coalesce(sum(wrap) FILTER (WHERE o = 'NO_ANSWER'), 0),
           count(wrap) FILTER (WHERE o = 'BUSY'), coalesce(sum(wrap) FILTER (WHERE o = 'BUSY'), 0),
           count(wrap) FILTER (WHERE o = 'REJECTED'), coalesce(sum(wrap) FILTER (WHERE o = 'REJECTED'), 0),
           count(wrap) FILTER (WHERE o = 'LOST'), coalesce(sum(wrap) FILTER (WHERE o = 'LOST'), 0),
           count(wrap) FILTER (WHERE o = 'ERROR'), coalesce(sum(wrap) FILTER (WHERE o = 'ERROR'), 0)
      FROM (SELECT date_trunc('hour', a.ended_at, 'UTC') AS hour, a.campaign_id, a.operator_id, a.selection_id,
                   a.outcome AS o,
                   CASE WHEN a.outcome = 'ANSWERED' THEN (extract(epoch FROM a.ended_at
                        - coalesce(a.bridged_at, a.answered_at)) * 1000000)::bigint END AS talk,
                   (extract(epoch FROM a.wrap_up_at - a.ended_at) * 1000000)::bigint AS wrap
              FROM attempt a WHERE a.ended_at IS NOT NULL AND a.outcome IS NOT NULL) x
     GROUP BY hour, campaign_id, operator_id, selection_id;
    GET DIAGNOSTICS made = ROW_COUNT;
    RETURN made;
END $$;

-- DELETE, not TRUNCATE: a TRUNCATE naming both tables would otherwise fail ("being used by active queries")
CREATE OR REPLACE FUNCTION report_rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM report_rollup;
    RETURN NULL;
END $$;

-- Only the columns a report reads fire the update trigger, and only when one of them changed: the engine's other
-- writes during a call (offered, ringing, channel names …) cost nothing.
DROP TRIGGER IF EXISTS report_rollup_insert ON attempt;
CREATE TRIGGER report_rollup_insert AFTER INSERT ON attempt
    FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL) EXECUTE FUNCTION report_rollup_changed();
DROP TRIGGER IF EXISTS report_rollup_update ON attempt;
CREATE TRIGGER report_rollup_update
    AFTER UPDATE OF ended_at, outcome, answered_at, bridged_at, wrap_up_at, campaign_id, operator_id, selection_id
    ON attempt FOR EACH ROW
    WHEN ((OLD.ended_at, OLD.outcome, OLD.answered_at, OLD.bridged_at, OLD.wrap_up_at, OLD.campaign_id,
           OLD.operator_id, OLD.selection_id)
          IS DISTINCT FROM (NEW.ended_at, NEW.outcome, NEW.answered_at, NEW.bridged_at, NEW.wrap_up_at, NEW.campaign_id,
                            NEW.operator_id, NEW.selection_id)
          AND (OLD.ended_at IS NOT NULL OR NEW.ended_at IS NOT NULL))
    EXECUTE FUNCTION report_rollup_changed();
DROP TRIGGER IF EXISTS report_rollup_delete ON attempt;
CREATE TRIGGER report_rollup_delete AFTER DELETE ON attempt
    FOR EACH ROW WHEN (OLD.ended_at IS NOT NULL) EXECUTE FUNCTION report_rollup_changed();
DROP TRIGGER IF EXISTS report_rollup_truncate ON attempt;
CREATE TRIGGER report_rollup_truncate AFTER TRUNCATE ON attempt
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_truncated();

-- The backfill: the existing attempts, counted afresh (idempotent: the rows are replaced, never added to). The
-- triggers above were created first in this same transaction, and CREATE TRIGGER locks out writers of `attempt`
-- until it commits, so no attempt is counted twice or missed.
SELECT report_rollup_rebuild();

-- G8 (issue 17, item 8): the daily shift summary PDFs a job writes at the end of the shift, kept for download.
CREATE TABLE IF NOT EXISTS report_file (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('shift')),
    day         date NOT NULL,                    -- the local day it covers
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    name        text NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, campaign_id, day)
);
CREATE INDEX IF NOT EXISTS report_file_day_idx ON report_file (day DESC, id DESC);
