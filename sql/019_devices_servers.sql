-- SIP devices as Asterisk reads them, kept in tables (issue 14, measured by bench.devices).
--
-- Asterisk reads an endpoint, auth and AOR from PostgreSQL on every SIP request (no sorcery cache, so a saved
-- device, a new password or a deletion take effect at once), over ONE connection per server, one query at a
-- time (res_config_pgsql). A REGISTER costs about ten such queries. Over the views of sql/012 each endpoint
-- lookup cost 1 to 4 ms, almost all of it planning the view (a join and a UNION ALL with an anti-join): 500
-- phones registering at once queued behind it for longer than SIP's retransmission timers, their REGISTERs were
-- sent again, and the retries kept pbx's queues full. Kept as tables with a primary key, a lookup is planned and
-- run in a few hundredths of a millisecond.
--
-- The views stay, renamed, as the definition of what Asterisk must see; a statement trigger on every table they
-- read (sip_device; operator's name, login, active) brings the tables to exactly that, in the same transaction,
-- so what commits is what the next SIP request finds — as before.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_views WHERE schemaname = 'public' AND viewname = 'ps_endpoints') THEN
        ALTER VIEW ps_endpoints RENAME TO sip_endpoints_wanted;
        ALTER VIEW ps_auths RENAME TO sip_auths_wanted;
        ALTER VIEW ps_aors RENAME TO sip_aors_wanted;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS ps_endpoints (LIKE sip_endpoints_wanted, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS ps_auths (LIKE sip_auths_wanted, PRIMARY KEY (id));
CREATE TABLE IF NOT EXISTS ps_aors (LIKE sip_aors_wanted, PRIMARY KEY (id));

-- Rows that differ are replaced, missing ones added, gone ones removed (EXCEPT compares NULLs as equal). One
-- writer at a time: a second transaction's statements see the first's rows once it commits.
CREATE OR REPLACE FUNCTION sip_realtime_sync() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7400223);
    DELETE FROM ps_endpoints WHERE id IN (SELECT id FROM (SELECT * FROM ps_endpoints
                                                          EXCEPT SELECT * FROM sip_endpoints_wanted) gone);
    INSERT INTO ps_endpoints SELECT * FROM sip_endpoints_wanted EXCEPT SELECT * FROM ps_endpoints;
    DELETE FROM ps_auths WHERE id IN (SELECT id FROM (SELECT * FROM ps_auths
                                                      EXCEPT SELECT * FROM sip_auths_wanted) gone);
    INSERT INTO ps_auths SELECT * FROM sip_auths_wanted EXCEPT SELECT * FROM ps_auths;
    DELETE FROM ps_aors WHERE id IN (SELECT id FROM (SELECT * FROM ps_aors
                                                     EXCEPT SELECT * FROM sip_aors_wanted) gone);
    INSERT INTO ps_aors SELECT * FROM sip_aors_wanted EXCEPT SELECT * FROM ps_aors;
END $$;

CREATE OR REPLACE FUNCTION sip_realtime_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sip_realtime_sync();
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS sip_device_realtime ON sip_device;
CREATE TRIGGER sip_device_realtime AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sip_device
    FOR EACH STATEMENT EXECUTE FUNCTION sip_realtime_changed();
-- the engine writes an operator's status all day long: only what the views read fires it
DROP TRIGGER IF EXISTS operator_realtime ON operator;
CREATE TRIGGER operator_realtime AFTER UPDATE OF name, login, active OR DELETE OR TRUNCATE ON operator
    FOR EACH STATEMENT EXECUTE FUNCTION sip_realtime_changed();

SELECT sip_realtime_sync();

-- A registration row's trigger (sql/012) runs in Asterisk's one connection, one at a time, for every REGISTER
-- that adds, renews or replaces a contact: as plpgsql the query below is planned once per session instead of
-- on every call of the SQL function (same answer).
CREATE OR REPLACE FUNCTION sip_registration(login text) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN coalesce((
        SELECT jsonb_build_object('online', true, 'contact_id', c.id, 'uri', replace(c.uri, '^3B', ';'), 'ip', c.via_addr,
                                  'port', c.via_port, 'user_agent', c.user_agent,
                                  'expires_at', to_timestamp(c.expiration_time::bigint),
                                  'registered_at', c.registered_at, 'server', c.reg_server,
                                  'qualify_status', c.qualify_status, 'rtt_us', c.rtt_us, 'status_at', c.status_at)
          FROM ps_contacts c
         WHERE c.device_login = sip_registration.login AND c.expiration_time ~ '^[0-9]{1,12}$'
           AND to_timestamp(c.expiration_time::bigint) > clock_timestamp()
         ORDER BY c.registered_at DESC LIMIT 1), jsonb_build_object('online', false));
END $$;
-- (SELECT for the `asterisk` role: dialer/migrate.py, after every migration)
