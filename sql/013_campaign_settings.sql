-- Campaign settings in the browser (SPEC B4, B6, C4, C5, C8, D5; issue 13): a default calling window per
-- campaign in the client's local time, campaign-wide daily limit and pause, a retry delay per outcome, and the
-- final CRM status on exhaustion, which now also reaches the CRM through the outbox.

-- C5: every campaign has a calling window unless someone chose "any hour" on purpose (audited with the
-- campaign's change). {"from", "to", "weekend": {"from", "to"} | null (no calls), "weekend_days": [6, 7]}
-- or {"any_hour": true}. A selection's own window only narrows it (rules/window.py).
ALTER TABLE campaign ADD COLUMN IF NOT EXISTS calling_window jsonb NOT NULL
    DEFAULT '{"from": "09:00", "to": "21:00", "weekend": {"from": "10:00", "to": "20:00"}, "weekend_days": [6, 7]}';
-- C4 for the whole campaign (a selection's limits narrow them further); NULL: no limit
ALTER TABLE campaign ADD COLUMN IF NOT EXISTS max_per_day integer CHECK (max_per_day BETWEEN 1 AND 50);
ALTER TABLE campaign ADD COLUMN IF NOT EXISTS min_pause_minutes integer CHECK (min_pause_minutes BETWEEN 0 AND 525600);
-- {"NO_ANSWER": 600, "BUSY": 300, ...}: seconds until the next try after that outcome; missing: retry_delay_s
ALTER TABLE campaign ADD COLUMN IF NOT EXISTS retry_delays jsonb NOT NULL DEFAULT '{}';
-- C8: the CRM status an order gets when its attempts run out ('' leaves it); a selection's own overrides it
ALTER TABLE campaign ADD COLUMN IF NOT EXISTS exhausted_status text NOT NULL DEFAULT ''
    CHECK (length(exhausted_status) <= 100);

-- the final status of an exhausted lead: the selection that chose its last attempt, else its campaign's
CREATE OR REPLACE FUNCTION lead_final_status(lead_id bigint, campaign_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif((SELECT s.rule->>'exhausted_status'
                              FROM attempt a JOIN selection s ON s.id = a.selection_id
                             WHERE a.lead_id = $1 ORDER BY a.id DESC LIMIT 1), ''),
                    (SELECT c.exhausted_status FROM campaign c WHERE c.id = $2), '')
$$;

CREATE OR REPLACE FUNCTION lead_exhausted_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    final text := lead_final_status(NEW.id, NEW.campaign_id);
BEGIN
    IF final <> '' THEN
        NEW.crm_status := final;
    END IF;
    RETURN NEW;
END $$;

-- C8 reaches the CRM: the exhausted lead's last attempt (never answered, so it has no wrap-up and no outbox
-- row of its own) carries the final status to the CRM, in the same transaction as the state change. The
-- outbox worker delivers it like a wrap-up result (retries, idempotency key, order per order).
CREATE OR REPLACE FUNCTION crm_enqueue_exhausted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    final text := lead_final_status(NEW.id, NEW.campaign_id);
BEGIN
    IF final = '' OR NEW.crm_connection_id IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm_outbox (connection_id, attempt_id, lead_id, external_id, result_code, operator_comment,
                            idempotency_key, status_id, comment, prepared, next_try_at)
    SELECT NEW.crm_connection_id, a.id, NEW.id, NEW.external_id, NULL, '',
           'dialer-' || a.id || '-' || substr(md5(random()::text), 1, 8), final,
           format('Попытки дозвона исчерпаны (%s)', NEW.attempts), true, coalesce(a.ended_at, now())
      FROM attempt a JOIN crm_connection c ON c.id = NEW.crm_connection_id AND c.push_enabled
     WHERE a.lead_id = NEW.id
     ORDER BY a.id DESC LIMIT 1
    ON CONFLICT (attempt_id) DO NOTHING;
    PERFORM pg_notify('crm_outbox', '');
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_crm_exhausted ON lead;
CREATE TRIGGER lead_crm_exhausted AFTER UPDATE OF state ON lead
    FOR EACH ROW WHEN (NEW.state = 'exhausted' AND OLD.state IS DISTINCT FROM 'exhausted')
    EXECUTE FUNCTION crm_enqueue_exhausted();

-- the campaign list's counters: today's attempts per campaign and outcome without a scan of the history
CREATE INDEX IF NOT EXISTS attempt_campaign_reserved_idx ON attempt (campaign_id, reserved_at);
