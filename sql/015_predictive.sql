-- Predictive dialling with an abandon cap, protective autostop, hold-music timeouts (SPEC B2, B3, B4, A2 LOST;
-- issue 16). The campaign's pacing settings live in their own row (one per campaign, created with defaults on
-- first read or change), so progressive campaigns need nothing new; ari_app/pacer.py reads them.

CREATE TABLE IF NOT EXISTS campaign_pacing (
    campaign_id          bigint PRIMARY KEY REFERENCES campaign(id) ON DELETE CASCADE,
    -- B1 progressive (one call per Ready operator, never abandons) or B2 predictive
    mode                 text NOT NULL DEFAULT 'progressive' CHECK (mode IN ('progressive', 'predictive')),
    -- calls in flight per operator logged in, at most («коэффициент опережения» never goes past it)
    max_ratio            numeric(3, 1) NOT NULL DEFAULT 2.0 CHECK (max_ratio BETWEEN 1.0 AND 5.0),
    -- the hard abandon cap, % of answered clients; 0 keeps a predictive campaign progressive
    abandon_cap_percent  numeric(4, 2) NOT NULL DEFAULT 3.00 CHECK (abandon_cap_percent BETWEEN 0 AND 10),
    -- the rolling window the cap is measured over: the last N answered clients and/or the day (at least one)
    window_answered      integer CHECK (window_answered BETWEEN 20 AND 100000),
    window_day           boolean NOT NULL DEFAULT true,
    -- an answered client not joined to an operator within this is abandoned (counts against the cap)
    grace_s              numeric(3, 1) NOT NULL DEFAULT 2.0 CHECK (grace_s BETWEEN 0 AND 10),
    -- B4: a client on hold music this long hears a short message and is hung up: LOST
    wait_timeout_s       integer NOT NULL DEFAULT 20 CHECK (wait_timeout_s BETWEEN 1 AND 600),
    -- the "safe-harbour" message a client on hold hears after the grace (seller's name and number)
    safe_harbour_message boolean NOT NULL DEFAULT false,
    -- small-sample rule: progressive until this many calls are measured
    min_sample_calls     integer NOT NULL DEFAULT 50 CHECK (min_sample_calls BETWEEN 10 AND 10000),
    -- B3 protective autostop (every mode): this many errors in a row within this many seconds stop the campaign
    autostop_errors      integer NOT NULL DEFAULT 5 CHECK (autostop_errors BETWEEN 1 AND 1000),
    autostop_window_s    integer NOT NULL DEFAULT 30 CHECK (autostop_window_s BETWEEN 1 AND 86400),
    -- «остановлена автоматически»: set when the autostop fired, cleared when a supervisor confirms
    autostopped_at       timestamptz,
    autostop_reason      text CHECK (length(autostop_reason) <= 2000),
    autostop_attempts    jsonb NOT NULL DEFAULT '[]',  -- the errors that caused it: [{attempt_id, at, error}]
    CHECK (window_answered IS NOT NULL OR window_day)
);
