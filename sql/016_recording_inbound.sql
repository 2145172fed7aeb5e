-- Issue 18: call recording (SPEC J1, J2), the consent announcement (B6) and clients who call back (A1).

-- ---- per campaign: record or not, how long to keep, the announcement the client hears before the operator ----
ALTER TABLE campaign
    ADD COLUMN IF NOT EXISTS record_calls boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS recording_retention_days integer NOT NULL DEFAULT 0
        CHECK (recording_retention_days BETWEEN 0 AND 3650),          -- 0: keep for ever
    ADD COLUMN IF NOT EXISTS consent_announcement boolean NOT NULL DEFAULT false,
    -- the uploaded file's name under the recordings directory's `announcements/` (NULL: the built-in message)
    ADD COLUMN IF NOT EXISTS consent_file text CHECK (consent_file ~ '^[a-z0-9_-]{1,80}$');

-- ---- an attempt is an outgoing call, or a client who called us back ----------------------------------------
ALTER TABLE attempt
    ADD COLUMN IF NOT EXISTS direction text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound'));

-- ---- J1: one recording per answered attempt, kept outside any web root (dialer/services/recordings.py) -------
-- `file` is relative to the recordings directory (settings.recordings_dir); the web serves it only through the
-- permission-checked, audited route. `state`: recording → stored (file, bytes, duration, sha256 known) or failed;
-- deleted when the campaign's retention removed the file (the row stays: the card says it existed).
CREATE TABLE IF NOT EXISTS call_recording (
    attempt_id  bigint PRIMARY KEY REFERENCES attempt(id) ON DELETE CASCADE,
    campaign_id bigint NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
    state       text NOT NULL DEFAULT 'recording' CHECK (state IN ('recording', 'stored', 'failed', 'deleted')),
    format      text NOT NULL DEFAULT 'opus' CHECK (format ~ '^[a-z0-9_]{1,20}$'),
    file        text CHECK (file ~ '^[0-9/]{1,40}at[0-9]{1,19}\.[a-z0-9]{1,8}$'),
    bytes       bigint CHECK (bytes >= 0),
    duration_s  double precision CHECK (duration_s >= 0),
    sha256      text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    stored_at   timestamptz,
    deleted_at  timestamptz,
    error       text CHECK (length(error) <= 500)
);
CREATE INDEX IF NOT EXISTS call_recording_kept_idx ON call_recording (campaign_id, started_at) WHERE state = 'stored';
