-- Lead store (SPEC C2, C5): the CRM fields the selection rules need as columns; every other field
-- stays in `attrs` (JSONB) where rules can address it too.

ALTER TABLE lead
    ADD COLUMN country          text NOT NULL DEFAULT '' CHECK (country ~ '^([A-Z]{2})?$'),  -- ISO 3166-1 alpha-2
    ADD COLUMN region           text NOT NULL DEFAULT '',
    ADD COLUMN city             text NOT NULL DEFAULT '',
    ADD COLUMN amount           numeric(14, 2),
    ADD COLUMN birth_date       date,
    ADD COLUMN product          text NOT NULL DEFAULT '',
    ADD COLUMN crm_status       text NOT NULL DEFAULT '',
    ADD COLUMN priority         integer NOT NULL DEFAULT 0,
    ADD COLUMN attempts_today   integer NOT NULL DEFAULT 0,   -- counted on `attempts_day` (client's date)
    ADD COLUMN attempts_day     date,
    ADD COLUMN assigned_operator_id bigint REFERENCES operator(id) ON DELETE SET NULL,  -- callback owner
    ADD COLUMN time_zone        text NOT NULL DEFAULT 'Europe/Moscow',  -- IANA name, never an offset
    ADD COLUMN time_zone_source text NOT NULL DEFAULT 'default'
                                CHECK (time_zone_source IN ('region', 'city', 'phone', 'default'));

-- 'held': the CRM says "don't touch" for now; it comes back when the CRM status maps to "call" again
ALTER TABLE lead DROP CONSTRAINT lead_state_check;
ALTER TABLE lead ADD CONSTRAINT lead_state_check
    CHECK (state IN ('new', 'callable', 'in_progress', 'held', 'done', 'exhausted'));

-- the results an operator chooses in wrap-up, per campaign (mapped to CRM statuses by the CRM work)
CREATE TABLE campaign_result (
    id          bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    code        text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,40}$'),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    position    integer NOT NULL DEFAULT 0,
    closes_lead boolean NOT NULL DEFAULT true,  -- false: the lead stays in the queue (e.g. "call back")
    UNIQUE (campaign_id, code)
);
