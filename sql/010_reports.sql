-- Reports and exports (SPEC G1–G7; issue 17): what the reports read beyond `attempt`, and saved views.

-- Every report reads the attempts that ended in a period through attempt_ended_at_idx (sql/009). No covering index
-- here: with answered_at, bridged_at and wrap_up_at in an index, the engine's updates of those stamps during each
-- call could no longer be HOT updates, and measured over 1,000,000 attempts the planner still chose the plain index.

-- Operator-hours (calls and talk per hour of login) need the time each operator spent signed in; the
-- `operator` row keeps only the current status. Each status change is logged here by a trigger, in the
-- change's own transaction, whoever makes it (engine, CLI, supervisor).
CREATE TABLE operator_status_log (
    id          bigserial PRIMARY KEY,
    operator_id bigint NOT NULL REFERENCES operator(id) ON DELETE CASCADE,
    status      text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX operator_status_log_idx ON operator_status_log (operator_id, at);

CREATE FUNCTION operator_status_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- status_since is the moment the status began when the writer sets it; otherwise the moment of the change
    INSERT INTO operator_status_log (operator_id, status, at)
    VALUES (NEW.id, NEW.status,
            CASE WHEN TG_OP = 'INSERT' OR NEW.status_since IS DISTINCT FROM OLD.status_since
                 THEN coalesce(NEW.status_since, clock_timestamp()) ELSE clock_timestamp() END);
    RETURN NULL;
END $$;
CREATE TRIGGER operator_status_logged_insert AFTER INSERT ON operator
    FOR EACH ROW EXECUTE FUNCTION operator_status_logged();
CREATE TRIGGER operator_status_logged_update AFTER UPDATE OF status ON operator
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION operator_status_logged();
-- the operators that exist already start from their current status
INSERT INTO operator_status_log (operator_id, status, at) SELECT id, status, status_since FROM operator;

-- G7: a table's filters, columns and sort saved by a user under a name; shared with one role when the user
-- may (dialer/services/report_views.py says who may).
CREATE TABLE report_view (
    id             bigserial PRIMARY KEY,
    owner_id       bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    table_key      text NOT NULL CHECK (table_key ~ '^[a-z_]{1,40}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    state          jsonb NOT NULL CHECK (jsonb_typeof(state) = 'object'),
    shared_role_id bigint REFERENCES role(id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, table_key, name)
);
CREATE INDEX report_view_shared_idx ON report_view (shared_role_id, table_key) WHERE shared_role_id IS NOT NULL;
