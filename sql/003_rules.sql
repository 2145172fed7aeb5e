-- Selection rules (SPEC C1–C10): selections per campaign (rules as versioned JSON), operator skills,
-- the global do-not-call list, and the indexes the claim walks.

-- C10: a number here is never dialled by any campaign
CREATE TABLE do_not_call (
    phone      text PRIMARY KEY CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),  -- E.164
    added_at   timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    source     text NOT NULL DEFAULT 'operator' CHECK (source IN ('operator', 'supervisor', 'import', 'crm')),
    attempt_id bigint  -- the call in which the client asked, when it came from a wrap-up
);

-- C7: a selection may require a skill at level >= N
CREATE TABLE operator_skill (
    operator_id bigint NOT NULL REFERENCES operator(id) ON DELETE CASCADE,
    skill       text NOT NULL CHECK (skill ~ '^[a-z0-9_]{1,40}$'),
    level       integer NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (operator_id, skill)
);

-- C1, C9: a campaign's selections, tried in `position` order; `rule` is the validated rule (JSON),
-- `skill`/`skill_level` are copied out of it so the claim filters selections in SQL
CREATE TABLE selection (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    position    integer NOT NULL DEFAULT 0,
    enabled     boolean NOT NULL DEFAULT true,
    rule        jsonb NOT NULL,
    version     integer NOT NULL DEFAULT 1,
    skill       text,
    skill_level integer CHECK (skill_level BETWEEN 1 AND 10),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX selection_campaign_idx ON selection (campaign_id, position, id);

-- every saved version of a rule, so a supervisor can see what was dialled under which rule
CREATE TABLE selection_version (
    selection_id bigint NOT NULL REFERENCES selection(id) ON DELETE CASCADE,
    version      integer NOT NULL,
    name         text NOT NULL,
    enabled      boolean NOT NULL,
    rule         jsonb NOT NULL,
    saved_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (selection_id, version)
);

-- which selection chose the lead for an attempt (C8: its final CRM status when attempts run out)
ALTER TABLE attempt ADD COLUMN selection_id bigint REFERENCES selection(id) ON DELETE SET NULL;

-- C6: a lead postponed by an operator (a callback) is called before the rest of its selection
ALTER TABLE lead ADD COLUMN callback boolean NOT NULL DEFAULT false;

-- The claim: per campaign, callable leads in the selection's order. Three orders exist (by due time,
-- by creation date, by priority); all put callbacks first. Conditions and the due time filter the walk.
DROP INDEX lead_claim_idx;
CREATE INDEX lead_claim_due_idx ON lead (campaign_id, callback DESC, next_call_at, id)
    WHERE state IN ('new', 'callable');
CREATE INDEX lead_claim_created_idx ON lead (campaign_id, callback DESC, created_at, id)
    WHERE state IN ('new', 'callable');
CREATE INDEX lead_claim_priority_idx ON lead (campaign_id, callback DESC, priority DESC, created_at, id)
    WHERE state IN ('new', 'callable');
-- a calling window open in none of a campaign's zones right now: found empty at once, not by a walk
CREATE INDEX lead_claim_zone_idx ON lead (campaign_id, time_zone) WHERE state IN ('new', 'callable');
-- callbacks bound to an operator: found first, without walking the campaign
CREATE INDEX lead_assigned_idx ON lead (assigned_operator_id, next_call_at)
    WHERE assigned_operator_id IS NOT NULL AND state IN ('new', 'callable');
-- do-not-call, "why is nothing dialling" and the wrap-up find every lead with a number
CREATE INDEX lead_phone_idx ON lead (phone);

-- C8: when a lead's attempts run out, the selection that chose its last attempt names its final CRM status
CREATE FUNCTION lead_exhausted_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    final text;
BEGIN
    SELECT s.rule->>'exhausted_status' INTO final
      FROM attempt a JOIN selection s ON s.id = a.selection_id
     WHERE a.lead_id = NEW.id ORDER BY a.id DESC LIMIT 1;
    IF coalesce(final, '') <> '' THEN
        NEW.crm_status := final;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER lead_exhausted_status BEFORE UPDATE OF state ON lead
    FOR EACH ROW WHEN (NEW.state = 'exhausted' AND OLD.state IS DISTINCT FROM 'exhausted')
    EXECUTE FUNCTION lead_exhausted_status();

-- the wrap-up finds the operator's submitted command for an attempt (postpone, do-not-call)
CREATE INDEX engine_command_wrap_up_idx ON engine_command (operator_id, ((payload->>'attempt_id')))
    WHERE kind = 'wrap_up';

-- C5: a lead's zone is an IANA area/location name PostgreSQL knows, never a fixed offset
ALTER TABLE lead ADD CONSTRAINT lead_time_zone_check CHECK (
    time_zone ~ '^(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)(/[A-Za-z0-9_+-]+){1,2}$'
    AND timezone(time_zone, timestamptz '2000-01-01 00:00+00') IS NOT NULL);
