-- «Кампании» (issue 13): the list follows live events by their facts alone, never reading its counters again.
-- Beyond `attempt` (a call, its end and outcome), `attempt.gone`, `operator.status` and `campaign`, it needs:
--   `lead.counts`   — a statement's net change of a campaign's leads by state: {campaign_id, leads: {state: ±n}};
--   `operator.pool` — an operator's pools after a change of them (or of the operator's `active`):
--                     {id, active, status, campaign_ids}.
-- Both come from the writers' own statements (triggers), whatever door the change came through.

-- The leads' statement trigger of sql/020 writes its delta rows as before and, from the same grouped rows, one
-- live event per campaign the statement touched (an import of 50,000 leads is one event, a claim one).
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
    ELSIF EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                   WHERE (o.campaign_id, o.state) IS DISTINCT FROM (n.campaign_id, n.state)) THEN
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

-- An operator's pools as they are now: the whole membership, so events applied in any number are idempotent
-- (a pool edit deletes and inserts: two events, the second one the truth).
CREATE OR REPLACE FUNCTION operator_pool_live_event_of(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO live_event (kind, permission, data)
    SELECT 'operator.pool', 'campaigns.read',
           jsonb_build_object('id', x.id, 'active', coalesce(o.active, false), 'status', o.status,
                              'campaign_ids', ARRAY(SELECT oc.campaign_id FROM operator_campaign oc
                                                     WHERE oc.operator_id = x.id AND o.id IS NOT NULL
                                                     ORDER BY 1))
      FROM (SELECT DISTINCT unnest(ids) AS id) x LEFT JOIN operator o ON o.id = x.id
$$;

CREATE OR REPLACE FUNCTION operator_pool_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM operator_pool_live_event_of(ARRAY(SELECT operator_id FROM new_rows));
    ELSE
        PERFORM operator_pool_live_event_of(ARRAY(SELECT operator_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS operator_pool_insert ON operator_campaign;
CREATE TRIGGER operator_pool_insert AFTER INSERT ON operator_campaign REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION operator_pool_changed();
DROP TRIGGER IF EXISTS operator_pool_delete ON operator_campaign;
CREATE TRIGGER operator_pool_delete AFTER DELETE ON operator_campaign REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION operator_pool_changed();

-- an operator switched off leaves every pool's count (the list counts active operators only), and back
CREATE OR REPLACE FUNCTION operator_active_pool_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM operator_pool_live_event_of(ARRAY[NEW.id]);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS operator_active_pool_event ON operator;
CREATE TRIGGER operator_active_pool_event AFTER UPDATE OF active ON operator
    FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active) EXECUTE FUNCTION operator_active_pool_event();
