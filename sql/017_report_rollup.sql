-- Reports read an hourly rollup of the ended attempts instead of the attempts themselves (issue 17; SPEC G1–G4).
--
-- One row per UTC hour in which attempts ended × campaign × operator × selection, with the count of each of the six
-- outcomes (one column each: a month of a 100-operator centre is ~72,000 rows, not six times as many), the talk time
-- of the ANSWERED ones, and the wrap-up time per outcome (an outcome filter must see only its own wrap-ups). Talk
-- and wrap-up are kept in whole microseconds (bigint: timestamps have microsecond resolution, so nothing is rounded
-- and the sums are exact — a report from the rollup equals the same report counted over `attempt` to the
-- microsecond — and integers are cheaper to add up than numeric).
--
-- Kept current transactionally, by triggers on `attempt`, in the writer's own transaction: an attempt that ends, is
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

-- The statement that adds signed attempts to their hours' rows: `source` yields (sign, a attempt) — +1 for an
-- attempt's contribution coming in, -1 for one going away. It groups first, so each row gets one upsert per
-- statement however many attempts of that hour change at once (updating one row once per attempt inside one
-- transaction would lengthen its version chain with every update: quadratic for a bulk insert).
CREATE OR REPLACE FUNCTION report_rollup_sql(source text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
    INSERT INTO report_rollup AS r (
        hour, campaign_id, operator_id, selection_id,
        n_answered, n_no_answer, n_busy, n_rejected, n_lost, n_error, talk_n, talk_us,
        wrap_n_answered, wrap_us_answered, wrap_n_no_answer, wrap_us_no_answer, wrap_n_busy, wrap_us_busy,
        wrap_n_rejected, wrap_us_rejected, wrap_n_lost, wrap_us_lost, wrap_n_error, wrap_us_error)
    SELECT hour, campaign_id, operator_id, selection_id,
           sum(sign * (o = 'ANSWERED')::int), sum(sign * (o = 'NO_ANSWER')::int), sum(sign * (o = 'BUSY')::int),
           sum(sign * (o = 'REJECTED')::int), sum(sign * (o = 'LOST')::int), sum(sign * (o = 'ERROR')::int),
           sum(sign * (talk IS NOT NULL)::int), coalesce(sum(sign * talk), 0),
           sum(CASE WHEN o = 'ANSWERED' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'ANSWERED' THEN sign * wrap END), 0),
           sum(CASE WHEN o = 'NO_ANSWER' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'NO_ANSWER' THEN sign * wrap END), 0),
           sum(CASE WHEN o = 'BUSY' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'BUSY' THEN sign * wrap END), 0),
           sum(CASE WHEN o = 'REJECTED' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'REJECTED' THEN sign * wrap END), 0),
           sum(CASE WHEN o = 'LOST' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'LOST' THEN sign * wrap END), 0),
           sum(CASE WHEN o = 'ERROR' THEN sign * (wrap IS NOT NULL)::int ELSE 0 END),
           coalesce(sum(CASE WHEN o = 'ERROR' THEN sign * wrap END), 0)
      FROM (SELECT s.sign, date_trunc('hour', (s.a).ended_at, 'UTC') AS hour, (s.a).campaign_id, (s.a).operator_id,
                   (s.a).selection_id, (s.a).outcome AS o,
                   CASE WHEN (s.a).outcome = 'ANSWERED' THEN (extract(epoch FROM (s.a).ended_at
                        - coalesce((s.a).bridged_at, (s.a).answered_at)) * 1000000)::bigint END AS talk,
                   (extract(epoch FROM (s.a).wrap_up_at - (s.a).ended_at) * 1000000)::bigint AS wrap
              FROM (%s) AS s (sign, a)
             WHERE (s.a).ended_at IS NOT NULL AND (s.a).outcome IS NOT NULL) x
     GROUP BY hour, campaign_id, operator_id, selection_id
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
        wrap_n_error = r.wrap_n_error + EXCLUDED.wrap_n_error, wrap_us_error = r.wrap_us_error + EXCLUDED.wrap_us_error
$q$, source)
$f$;

-- Statement triggers with transition tables: the rows a statement inserted, deleted or changed, at once (a
-- transition table's whole row is an anonymous record: ROW(…)::attempt names its type). The cheap
-- static checks first: most statements on `attempt` (a live attempt opened, a stamp written during a call) change
-- nothing a report counts and end there.
CREATE OR REPLACE FUNCTION report_rollup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM new_rows WHERE ended_at IS NOT NULL) THEN
            EXECUTE report_rollup_sql('SELECT 1, ROW(n.*)::attempt FROM new_rows n');
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM old_rows WHERE ended_at IS NOT NULL) THEN
            EXECUTE report_rollup_sql('SELECT -1, ROW(o.*)::attempt FROM old_rows o');
        END IF;
    ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                   WHERE (o.ended_at IS NOT NULL OR n.ended_at IS NOT NULL)
                     AND (o.ended_at, o.outcome, o.answered_at, o.bridged_at, o.wrap_up_at, o.campaign_id,
                          o.operator_id, o.selection_id)
                         IS DISTINCT FROM (n.ended_at, n.outcome, n.answered_at, n.bridged_at, n.wrap_up_at,
                                           n.campaign_id, n.operator_id, n.selection_id)) THEN
        EXECUTE report_rollup_sql($s$
            SELECT x.sign, x.a FROM old_rows o JOIN new_rows n ON n.id = o.id
                   CROSS JOIN LATERAL (VALUES (-1, ROW(o.*)::attempt), (1, ROW(n.*)::attempt)) AS x (sign, a)
             WHERE (o.ended_at, o.outcome, o.answered_at, o.bridged_at, o.wrap_up_at, o.campaign_id, o.operator_id,
                    o.selection_id)
                   IS DISTINCT FROM (n.ended_at, n.outcome, n.answered_at, n.bridged_at, n.wrap_up_at, n.campaign_id,
                                     n.operator_id, n.selection_id)$s$);
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
    EXECUTE report_rollup_sql('SELECT 1, a FROM attempt a WHERE a.ended_at IS NOT NULL');
    GET DIAGNOSTICS made = ROW_COUNT;
    RETURN made;
END $$;

-- DELETE, not TRUNCATE: a TRUNCATE naming both tables would otherwise fail ("being used by active queries")
CREATE OR REPLACE FUNCTION report_rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM report_rollup;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS report_rollup_insert ON attempt;
CREATE TRIGGER report_rollup_insert AFTER INSERT ON attempt REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_changed();
DROP TRIGGER IF EXISTS report_rollup_update ON attempt;
CREATE TRIGGER report_rollup_update AFTER UPDATE ON attempt REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_changed();
DROP TRIGGER IF EXISTS report_rollup_delete ON attempt;
CREATE TRIGGER report_rollup_delete AFTER DELETE ON attempt REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_rollup_changed();
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
