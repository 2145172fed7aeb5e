-- Audit log (SPEC I1, I2): every change made through the application; partitioned by month.
-- Partitions are created ahead by a job (audit_log_ensure_partitions), never on demand: a row for a
-- month without a partition is refused rather than silently landing in a catch-all.

CREATE TABLE audit_log (
    id          bigserial,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),  -- microseconds
    user_id     bigint,                -- NULL for the system itself (jobs, engine, CLI)
    user_name   text NOT NULL,         -- as it was at that moment
    user_role   text NOT NULL,         -- the user's role at that moment
    action      text NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'custom')),
    name        text NOT NULL,         -- readable name of what happened
    object_type text NOT NULL,
    object_id   text NOT NULL DEFAULT '',
    changes     jsonb NOT NULL DEFAULT '{}',  -- {field: [old, new]}
    ip          text NOT NULL DEFAULT '',
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id, at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at);

CREATE FUNCTION audit_log_ensure_partitions(months_ahead integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', now())::date;
    m date;
    made integer := 0;
BEGIN
    FOR i IN 0..months_ahead LOOP
        m := (first + make_interval(months => i))::date;
        IF to_regclass('audit_log_' || to_char(m, 'YYYYMM')) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                           'audit_log_' || to_char(m, 'YYYYMM'), m, (m + interval '1 month')::date);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;
SELECT audit_log_ensure_partitions(3);
