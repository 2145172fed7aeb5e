-- Access (SPEC H): users, roles with their permissions, extra per-user grants, server-side sessions;
-- live updates (SPEC L1): an event table that NOTIFYs, so a reconnecting browser can catch up.
-- Permission names are those of dialer/permissions.py; the roles are seeded from there by `dialer setup`.

CREATE TABLE app_user (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash  text NOT NULL,                 -- argon2id
    active         boolean NOT NULL DEFAULT true,
    language       text NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'en')),
    operator_id    bigint UNIQUE REFERENCES operator(id) ON DELETE SET NULL,  -- the operator this user works as
    failed_logins  integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX app_user_email_idx ON app_user (email);

CREATE TABLE role (
    id        bigserial PRIMARY KEY,
    code      text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9_]{2,40}$'),
    title_ru  text NOT NULL,
    title_en  text NOT NULL
);

CREATE TABLE role_permission (
    role_id    bigint NOT NULL REFERENCES role(id) ON DELETE CASCADE,
    permission text NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE user_role (
    user_id bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    role_id bigint NOT NULL REFERENCES role(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

-- grants beyond the user's roles
CREATE TABLE user_permission (
    user_id    bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    permission text NOT NULL,
    PRIMARY KEY (user_id, permission)
);

-- the cookie carries a random token; only its SHA-256 is stored, so a leaked table opens no session
CREATE TABLE web_session (
    token_hash   text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX web_session_user_idx ON web_session (user_id);

-- deactivating a user signs them out everywhere, whoever made the change and however
CREATE FUNCTION app_user_signed_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.active THEN
        DELETE FROM web_session WHERE user_id = NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER app_user_signed_out AFTER UPDATE OF active ON app_user
    FOR EACH ROW EXECUTE FUNCTION app_user_signed_out();

-- Live events: what changed, who may see it (a permission, or being the operator it concerns).
-- Kept for an hour (a job purges older ones): enough for any reconnect to catch up.
CREATE TABLE live_event (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind        text NOT NULL,
    permission  text NOT NULL,     -- holders of this permission see the event
    operator_id bigint,            -- ... and so does the user who is this operator
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX live_event_at_idx ON live_event (at);

CREATE FUNCTION live_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the whole event in the payload (well under NOTIFY's 8000 bytes): listeners need no query
    PERFORM pg_notify('live_event', json_build_object('id', NEW.id, 'kind', NEW.kind,
        'permission', NEW.permission, 'operator_id', NEW.operator_id, 'data', NEW.data)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER live_event_notify AFTER INSERT ON live_event
    FOR EACH ROW EXECUTE FUNCTION live_event_notify();

-- operator status changes (the engine writes them) become live events
CREATE FUNCTION operator_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('operator.status', 'operators.read', NEW.id,
            json_build_object('id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                              'since', NEW.status_since, 'attempt_id', NEW.attempt_id));
    RETURN NULL;
END $$;
CREATE TRIGGER operator_live_event AFTER UPDATE OF status ON operator
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION operator_live_event();

-- attempts: a new one, and its answer and end
CREATE FUNCTION attempt_live_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('attempt', 'calls.read', NEW.operator_id,
            json_build_object('id', NEW.id, 'lead_id', NEW.lead_id, 'campaign_id', NEW.campaign_id,
                              'operator_id', NEW.operator_id, 'outcome', NEW.outcome,
                              'answered_at', NEW.answered_at, 'ended_at', NEW.ended_at));
    RETURN NULL;
END $$;
CREATE TRIGGER attempt_live_event AFTER INSERT OR UPDATE OF outcome, answered_at ON attempt
    FOR EACH ROW EXECUTE FUNCTION attempt_live_event();

-- a change of who may see what: open live streams re-read their user's permissions at once
CREATE FUNCTION access_changed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('access_changed', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER user_role_changed AFTER INSERT OR UPDATE OR DELETE ON user_role
    FOR EACH STATEMENT EXECUTE FUNCTION access_changed_notify();
CREATE TRIGGER user_permission_changed AFTER INSERT OR UPDATE OR DELETE ON user_permission
    FOR EACH STATEMENT EXECUTE FUNCTION access_changed_notify();
CREATE TRIGGER role_permission_changed AFTER INSERT OR UPDATE OR DELETE ON role_permission
    FOR EACH STATEMENT EXECUTE FUNCTION access_changed_notify();
CREATE TRIGGER web_session_ended AFTER DELETE ON web_session
    FOR EACH STATEMENT EXECUTE FUNCTION access_changed_notify();
CREATE TRIGGER app_user_changed AFTER UPDATE OF active, operator_id ON app_user
    FOR EACH STATEMENT EXECUTE FUNCTION access_changed_notify();
