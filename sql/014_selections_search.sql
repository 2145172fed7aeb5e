-- The selection editor and «Поиск» (SPEC C1, C9, E3; issue 13).

-- Version history says who saved each version (the audit log says it too, but its time is the statement's,
-- not the transaction's, so the two cannot be joined reliably).
ALTER TABLE selection_version ADD COLUMN IF NOT EXISTS saved_by text NOT NULL DEFAULT '';
ALTER TABLE selection_version ADD COLUMN IF NOT EXISTS saved_by_id bigint;

-- Search by order id across campaigns: the unique (campaign_id, external_id) index cannot answer it without
-- the campaign.
CREATE INDEX IF NOT EXISTS lead_external_id_idx ON lead (external_id);
-- Search by a part of a name or of a number: trigram indexes answer `ILIKE '%…%'` without a scan.
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS lead_name_trgm_idx ON lead USING gin (lower(name) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS lead_phone_trgm_idx ON lead USING gin (phone gin_trgm_ops);
