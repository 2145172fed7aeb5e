-- Operators and their SIP devices in the browser (SPEC A4, F5, F6, C7; issue 14): SIP devices of their own
-- (bound to an operator or to a named seat), operators that can be deactivated, the realtime views Asterisk
-- reads rebuilt over the devices, and registrations (contacts) kept in PostgreSQL where pages can read them.

-- An operator who left is deactivated (kept for the history of their calls), not deleted.
ALTER TABLE operator ADD COLUMN active boolean NOT NULL DEFAULT true;
-- SIP credentials now live on the device; the column stays only so that an INSERT naming it (the foundation's
-- way to make an operator with a phone) still works: the trigger below turns it into a device and clears it.
ALTER TABLE operator ALTER COLUMN sip_password DROP NOT NULL;

CREATE TABLE sip_device (
    id              bigserial PRIMARY KEY,
    -- the SIP user name, the endpoint's, auth's and AOR's id: fixed once created (a contact row names it)
    login           text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9_.-]{2,40}$'),
    password        text NOT NULL CHECK (password ~ '^[!#-~]{8,128}$'),  -- Asterisk needs it as such (digest)
    server          text NOT NULL DEFAULT 'pbx' CHECK (length(server) BETWEEN 1 AND 100),
    operator_id     bigint UNIQUE REFERENCES operator(id) ON DELETE SET NULL,  -- an operator's own phone ...
    seat            text CHECK (length(seat) BETWEEN 1 AND 100),              -- ... or a workstation's
    codecs          text NOT NULL DEFAULT 'ulaw,alaw' CHECK (codecs ~ '^[a-z0-9]{2,10}(,[a-z0-9]{2,10}){0,7}$'),
    transport       text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
    direct_media    boolean NOT NULL DEFAULT false,
    rtp_symmetric   boolean NOT NULL DEFAULT true,
    force_rport     boolean NOT NULL DEFAULT true,
    rewrite_contact boolean NOT NULL DEFAULT true,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    password_set_at timestamptz NOT NULL DEFAULT now(),
    CHECK (operator_id IS NULL OR seat IS NULL)
);
CREATE UNIQUE INDEX sip_device_seat_uq ON sip_device (lower(seat)) WHERE seat IS NOT NULL;

-- every operator the foundation made had its phone under its own login
INSERT INTO sip_device (login, password, server, operator_id)
    SELECT login, sip_password, server, id FROM operator WHERE sip_password IS NOT NULL;
UPDATE operator SET sip_password = NULL WHERE sip_password IS NOT NULL;

CREATE FUNCTION operator_legacy_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sip_device (login, password, server, operator_id) VALUES (NEW.login, NEW.sip_password, NEW.server, NEW.id);
    UPDATE operator SET sip_password = NULL WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER operator_legacy_device AFTER INSERT ON operator
    FOR EACH ROW WHEN (NEW.sip_password IS NOT NULL) EXECUTE FUNCTION operator_legacy_device();

-- ---- what Asterisk reads (res_config_pgsql; sorcery.conf, extconfig.conf) ---------------------------------------
-- Only active devices of active operators (or of seats) exist for Asterisk: a deactivated one cannot register.
-- No sorcery cache is configured, so every lookup reads these views: a saved device, a new password, a
-- deletion take effect on the very next SIP request, with no reload.
DROP VIEW ps_endpoints, ps_auths, ps_aors;

CREATE VIEW sip_device_live AS
    SELECT d.*, o.name AS operator_name, o.login AS operator_login
      FROM sip_device d LEFT JOIN operator o ON o.id = d.operator_id
     WHERE d.active AND (o.id IS NULL OR o.active);

CREATE FUNCTION sip_yes(flag boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN flag THEN 'yes' ELSE 'no' END $$;

-- The engine dials an operator as PJSIP/<operator's login>. A device bound to an operator under another
-- login (a seat's phone given to someone) gets a second endpoint named after the operator, pointing at the
-- device's AOR and challenged with the device's own credentials, so the engine reaches it unchanged.
CREATE VIEW ps_endpoints AS
    SELECT login AS id, 'transport-' || transport AS transport, login AS aors, login AS auth,
           'dialer-operators'::text AS context, 'all'::text AS disallow, codecs AS allow,
           sip_yes(direct_media) AS direct_media, sip_yes(rtp_symmetric) AS rtp_symmetric,
           sip_yes(force_rport) AS force_rport, sip_yes(rewrite_contact) AS rewrite_contact,
           ('"' || replace(coalesce(operator_name, seat, login), '"', '') || '" <' || login || '>') AS callerid
      FROM sip_device_live
    UNION ALL
    SELECT d.operator_login, 'transport-' || d.transport, d.login, d.login,
           'dialer-operators'::text, 'all'::text, d.codecs,
           sip_yes(d.direct_media), sip_yes(d.rtp_symmetric), sip_yes(d.force_rport), sip_yes(d.rewrite_contact),
           ('"' || replace(d.operator_name, '"', '') || '" <' || d.operator_login || '>')
      FROM sip_device_live d
     WHERE d.operator_login IS NOT NULL AND d.operator_login <> d.login
       AND NOT EXISTS (SELECT 1 FROM sip_device x WHERE x.login = d.operator_login);

CREATE VIEW ps_auths AS
    SELECT login AS id, 'userpass'::text AS auth_type, login AS username, password FROM sip_device_live;

-- qualify: Asterisk puts an AOR under its OPTIONS management when its first contact arrives with a qualify
-- frequency (res_pjsip/pjsip_options.c, has_qualify_changed), which is what makes a device added after start
-- show "online" over ARI without a `module reload res_pjsip.so`; it also measures the round-trip time.
CREATE VIEW ps_aors AS
    SELECT login AS id, 1 AS max_contacts, 'yes'::text AS remove_existing, 15 AS qualify_frequency,
           NULL::text AS contact  -- Asterisk asks for static contacts on every (re)load
      FROM sip_device_live;

-- Registrations, written by Asterisk (sorcery.conf: contact = realtime,ps_contacts): they survive a restart
-- of either side and can be queried. The columns up to `qualify_2xx_only` are Asterisk's own (its alembic
-- scripts, as of 22); the rest are ours, which Asterisk neither writes nor reads (res_sorcery_realtime
-- filters unknown columns out of what it reads).
CREATE TABLE ps_contacts (
    id                   text PRIMARY KEY,  -- '<aor>^3B@<hash of the URI>' (res_config_pgsql writes ';' as ^3B)
    uri                  text,
    expiration_time      text,              -- seconds since the epoch, as text
    qualify_frequency    integer,
    outbound_proxy       text,
    path                 text,
    user_agent           text,
    qualify_timeout      double precision,
    reg_server           text,              -- the Asterisk that took it (its `systemname`)
    authenticate_qualify text,
    via_addr             text,
    via_port             integer,
    call_id              text,
    endpoint             text,
    prune_on_boot        text,
    qualify_2xx_only     text,
    -- ours: the device (deleting it deletes its registrations), when it registered, what qualify last saw
    device_login         text GENERATED ALWAYS AS (split_part(id, '^3B@', 1)) STORED
                         REFERENCES sip_device(login) ON DELETE CASCADE,
    registered_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    qualify_status       text,
    rtt_us               bigint,
    status_at            timestamptz
);
-- Asterisk finds an AOR's contacts with `id LIKE '<aor>^3B@%'`
CREATE INDEX ps_contacts_prefix_idx ON ps_contacts (id text_pattern_ops);
CREATE INDEX ps_contacts_device_idx ON ps_contacts (device_login);

-- A device's registration as pages show it: its freshest contact that has not expired, or offline.
CREATE FUNCTION sip_registration(login text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce((
        SELECT jsonb_build_object('online', true, 'contact_id', c.id, 'uri', replace(c.uri, '^3B', ';'), 'ip', c.via_addr,
                                  'port', c.via_port, 'user_agent', c.user_agent,
                                  'expires_at', to_timestamp(c.expiration_time::bigint),
                                  'registered_at', c.registered_at, 'server', c.reg_server,
                                  'qualify_status', c.qualify_status, 'rtt_us', c.rtt_us, 'status_at', c.status_at)
          FROM ps_contacts c
         WHERE c.device_login = $1 AND c.expiration_time ~ '^[0-9]{1,12}$'
           AND to_timestamp(c.expiration_time::bigint) > clock_timestamp()
         ORDER BY c.registered_at DESC LIMIT 1), jsonb_build_object('online', false))
$$;

-- Each registration change reaches pages as a live event with the device's whole registration after it
-- (holders of `sip.read`, and the operator whose phone it is). A device going offline (its last contact gone,
-- or qualify finding it unreachable) while its operator is Ready or in a call raises the supervisor's alert,
-- one open per device; the alert clears when the device is back. The trigger runs in Asterisk's session
-- (role `asterisk`), hence SECURITY DEFINER with a fixed search path.
CREATE FUNCTION ps_contact_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_catalog AS $$
DECLARE
    v_login text := CASE WHEN TG_OP = 'DELETE' THEN OLD.device_login ELSE NEW.device_login END;
    v_device sip_device;
    v_operator operator;
    v_state jsonb := sip_registration(v_login);
    v_down boolean;
BEGIN
    SELECT * INTO v_device FROM sip_device WHERE login = v_login;
    IF NOT FOUND THEN  -- the device itself was deleted: its page says so already
        INSERT INTO live_event (kind, permission, operator_id, data)
        VALUES ('sip.registration', 'sip.read', NULL,
                jsonb_build_object('login', v_login, 'device_id', NULL, 'registration', jsonb_build_object('online', false)));
        RETURN NULL;
    END IF;
    INSERT INTO live_event (kind, permission, operator_id, data)
    VALUES ('sip.registration', 'sip.read', v_device.operator_id,
            jsonb_build_object('login', v_login, 'device_id', v_device.id, 'operator_id', v_device.operator_id,
                               'registration', v_state));
    v_down := NOT (v_state->>'online')::boolean OR coalesce(v_state->>'qualify_status', '') = 'Unreachable';
    IF v_down THEN
        SELECT * INTO v_operator FROM operator WHERE id = v_device.operator_id;
        IF FOUND AND v_operator.status IN ('ready', 'in_call') THEN
            INSERT INTO alert (kind, operator_id, object_key, text_ru, text_en)
            VALUES ('sip_offline', v_operator.id, 'sip_device:' || v_device.id,
                    format('SIP-устройство %s оператора «%s» отключилось (статус «%s»)', v_login, v_operator.name,
                           CASE v_operator.status WHEN 'ready' THEN 'Готов' ELSE 'В разговоре' END),
                    format('SIP device %s of %s went offline while %s', v_login, v_operator.name,
                           CASE v_operator.status WHEN 'ready' THEN 'Ready' ELSE 'in a call' END))
            ON CONFLICT (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL DO NOTHING;
        END IF;
    ELSE
        UPDATE alert SET cleared_at = clock_timestamp()
         WHERE kind = 'sip_offline' AND object_key = 'sip_device:' || v_device.id AND cleared_at IS NULL;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ps_contact_changed AFTER INSERT OR DELETE OR UPDATE ON ps_contacts
    FOR EACH ROW EXECUTE FUNCTION ps_contact_changed();
-- (grants to the `asterisk` role: dialer/migrate.py, after every migration, as the views are rebuilt here)
