"""The PostgreSQL superuser has a secret of its own, the application role is no superuser, and the
application's commits are durable (issue 12, defect 12); a cluster made with the old scheme (superuser with
the application's password) still starts and migrates, and is moved to the new one on the way."""
from __future__ import annotations

from dataclasses import replace

import psycopg2
import pytest

from dialer import migrate
from dialer import pg as cluster


def superuser_accepts(settings, password: str) -> bool:
    try:
        psycopg2.connect(host=settings.db_host, port=settings.db_port, user="postgres", password=password,
                         dbname="postgres").close()
    except psycopg2.OperationalError as e:
        assert "password authentication failed" in str(e), e  # refused, not unreachable
        return False
    return True


def assert_commits_durably(settings) -> None:
    """A fresh session of the application role, outside the pool, commits synchronously, and what dialer wrote into
    postgresql.conf does not turn that off."""
    conn = psycopg2.connect(**settings.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone()[0] == "on"
    finally:
        conn.close()
    conf = (cluster.data_dir(settings) / "postgresql.conf").read_text()
    assert "synchronous_commit = off" not in conf[conf.rfind("# written by dialer"):]


def test_the_superuser_has_its_own_secret_and_the_application_role_is_no_superuser(settings, db):
    assert settings.db_superuser_password and settings.db_superuser_password != settings.db_password
    assert superuser_accepts(settings, settings.db_superuser_password)
    assert not superuser_accepts(settings, settings.db_password)
    rolsuper, createrole, createdb = db.execute_sql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user").fetchone()
    assert (rolsuper, createrole, createdb) == (False, False, False)
    assert db.execute_sql("SELECT current_user").fetchone()[0] == settings.db_user


def test_the_applications_sessions_commit_durably(settings, db):
    assert db.execute_sql("SHOW synchronous_commit").fetchone()[0] == "on"
    assert_commits_durably(settings)


@pytest.fixture
def old_scheme(settings, pg):
    """The cluster as an earlier version made it: the superuser with the application's password, commits
    asynchronous in postgresql.conf and for the role. Put back to the new scheme afterwards, whatever happens."""
    conf = cluster.data_dir(settings) / "postgresql.conf"
    before = conf.read_text()
    conf.write_text(before + "\n# written by dialer\nsynchronous_commit = off\n")
    superuser(settings, f'ALTER ROLE "{settings.db_user}" RESET synchronous_commit')
    superuser(settings, "SELECT pg_reload_conf()")
    superuser(settings, "ALTER ROLE postgres PASSWORD %s", settings.db_password)  # last: the next login moves it
    yield
    conf.write_text(before)
    cluster.start(settings)  # back to the new scheme for the tests after this one
    superuser(settings, "SELECT pg_reload_conf()")


def superuser(settings, sql: str, *args) -> None:
    conn = cluster.superuser_conn(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
    finally:
        conn.close()


def test_a_cluster_made_with_the_old_scheme_starts_migrates_and_gets_separate_secrets(settings, old_scheme):
    assert superuser_accepts(settings, settings.db_password)  # the old scheme really is in place
    cluster.start(settings)
    migrate.migrate(settings)
    assert superuser_accepts(settings, settings.db_superuser_password)
    assert not superuser_accepts(settings, settings.db_password)
    assert_commits_durably(settings)


def test_settings_without_the_superuser_secret_still_start_an_old_cluster(settings, old_scheme):
    """`dialer db start` with a dialer.json that `dialer setup` has not completed yet: works as before."""
    cluster.start(replace(settings, db_superuser_password=""))
    migrate.migrate(settings)
    assert superuser_accepts(settings, settings.db_password)  # nothing to move it to yet


def test_a_wrong_superuser_secret_is_refused_with_a_clear_error(settings, pg):
    wrong = replace(settings, db_superuser_password="not-the-secret", db_password="not-this-either")
    with pytest.raises(RuntimeError, match="refused the superuser's password"):
        cluster._ensure_roles(wrong)
