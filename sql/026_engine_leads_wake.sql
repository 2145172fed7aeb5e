-- A Ready operator with nothing to call looks again less and less often (ari_app/runtime.py: 1 s, 2 s, 4 s, then
-- every 5 s): 200 idle operators at the end of a list no longer ask the database 200 times a second. What can bring
-- them something to call wakes them at once instead of at their next look: leads written callable (an import, a
-- CRM sync, an attempt ended for a retry), a campaign, selection, pool or skill changed, a number taken off the
-- do-not-call list. Only time itself (a retry coming due, a calling window opening) waits for the next look.
-- One NOTIFY per channel and payload per transaction (PostgreSQL folds duplicates), read by the engine's listener.

CREATE OR REPLACE FUNCTION engine_leads_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('engine_leads', '');
    RETURN NULL;
END $$;

-- leads: only when a statement leaves a lead callable (a claim, which takes one out, wakes nobody)
CREATE OR REPLACE FUNCTION engine_leads_wake_callable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM engine_wake_rows WHERE state IN ('new', 'callable')) THEN
        PERFORM pg_notify('engine_leads', '');
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_engine_wake_insert ON lead;
CREATE TRIGGER lead_engine_wake_insert AFTER INSERT ON lead REFERENCING NEW TABLE AS engine_wake_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake_callable();
DROP TRIGGER IF EXISTS lead_engine_wake_update ON lead;
CREATE TRIGGER lead_engine_wake_update AFTER UPDATE ON lead REFERENCING NEW TABLE AS engine_wake_rows
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake_callable();

DROP TRIGGER IF EXISTS campaign_engine_wake ON campaign;
CREATE TRIGGER campaign_engine_wake AFTER INSERT OR UPDATE ON campaign
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake();
DROP TRIGGER IF EXISTS selection_engine_wake ON selection;
CREATE TRIGGER selection_engine_wake AFTER INSERT OR UPDATE OR DELETE ON selection
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake();
DROP TRIGGER IF EXISTS operator_campaign_engine_wake ON operator_campaign;
CREATE TRIGGER operator_campaign_engine_wake AFTER INSERT OR UPDATE OR DELETE ON operator_campaign
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake();
DROP TRIGGER IF EXISTS operator_skill_engine_wake ON operator_skill;
CREATE TRIGGER operator_skill_engine_wake AFTER INSERT OR UPDATE OR DELETE ON operator_skill
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake();
DROP TRIGGER IF EXISTS do_not_call_engine_wake ON do_not_call;
CREATE TRIGGER do_not_call_engine_wake AFTER DELETE ON do_not_call
    FOR EACH STATEMENT EXECUTE FUNCTION engine_leads_wake();
