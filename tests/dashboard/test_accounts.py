"""Accounts, API tokens and the audit log (issue 19, dashboard.accounts and dashboard.audit) on DuckDB, SQLite and
PostgreSQL: passwords checked against argon2id hashes, sessions ended by the epoch, tokens stored as hashes only,
hostile input refused with a clear message and nothing stored."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from dashboard import accounts, audit, db
from dashboard.accounts import AccountError, Role, Scope
from dashboard.errors import BadInput
from tests.conftest import PG_TEST_URL, make_database_url

PASSWORD = "correct horse battery"
HOSTILE_NAMES = [
    "",  # empty
    "x" * 65,  # one over the limit
    "a" * 10_000,  # 10 kB
    "alice\nadmin",  # a line break: would forge a log line
    "bob\x00",  # NUL
    "carol\x1b[31m",  # a terminal escape
    "dave'; DROP TABLE accounts; --",  # SQL text
    "eve OR 1=1",  # spaces
    "ｍａｌｌｏｒｙ",  # full-width letters that look like ASCII
    "trent/../../etc",  # a path
]


def all_stored_text(conn) -> str:
    """Return every value of every table of the database as one text (to search for a secret)."""
    parts = []
    for name in sorted(sa.inspect(conn).get_table_names()):
        for row in conn.execute(sa.select(sa.text("*")).select_from(sa.table(name))):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_acc001_add_and_check_password(engine):
    """An added account signs in with its password under its name in any case; a wrong password, an unknown name
    and a name no account could have give None; only an argon2id hash of the password is stored."""
    with engine.begin() as conn:
        assert accounts.count_accounts(conn) == 0
        added = accounts.add_account(conn, "Alice.Smith@example", PASSWORD, Role.ANALYST)
    assert (added.name, added.role, added.disabled, added.session_epoch, added.last_sign_in_at) == (
        "Alice.Smith@example", Role.ANALYST, False, 0, None)
    assert added.created_at.tzinfo is timezone.utc
    assert abs(datetime.now(timezone.utc) - added.created_at) < timedelta(minutes=1)
    with engine.begin() as conn:
        assert accounts.count_accounts(conn) == 1
        assert accounts.check_password(conn, "Alice.Smith@example", PASSWORD) == added
        assert accounts.check_password(conn, "alice.smith@EXAMPLE", PASSWORD) == added
        assert accounts.check_password(conn, "Alice.Smith@example", PASSWORD + "x") is None
        assert accounts.check_password(conn, "Alice.Smith@example", PASSWORD.upper()) is None
        assert accounts.check_password(conn, "Alice.Smith@example", "") is None
        assert accounts.check_password(conn, "nobody", PASSWORD) is None
        assert accounts.check_password(conn, "a" * 10_000, PASSWORD) is None
        assert accounts.check_password(conn, "Alice.Smith@example", "p" * 100_000) is None
        stored = conn.execute(sa.select(db.accounts.c.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in all_stored_text(conn)
        assert accounts.find_account(conn, "ALICE.smith@example") == added
        assert accounts.get_account(conn, added.id) == added
        assert accounts.get_account(conn, added.id + 1) is None
        assert accounts.get_account(conn, 2**40) is None and accounts.get_account(conn, "1") is None
        assert accounts.list_accounts(conn) == [added]


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting its verifications."""

    verified = 0

    def verify(self, hash, password):
        """Return the real verification's answer, counted."""
        CountingHasher.verified += 1
        return super().verify(hash, password)


def test_acc002_every_failed_check_costs_one_verification(engine, monkeypatch):
    """The time does not tell whether a name exists: an unknown name, an invalid name, a wrong password and a
    disabled account each cost one argon2 verification, like a right password."""
    with engine.begin() as conn:
        accounts.add_account(conn, "alice", PASSWORD, Role.VIEWER)
        accounts.add_account(conn, "off", PASSWORD, Role.VIEWER)
        accounts.disable_account(conn, "off")
    monkeypatch.setattr(accounts, "_hasher", CountingHasher())
    cases = [("alice", PASSWORD, True), ("alice", "wrong password", False), ("nobody", PASSWORD, False),
             ("bad name\n", PASSWORD, False), ("off", PASSWORD, False), ("alice", "p" * 5000, False)]
    with engine.begin() as conn:
        for name, password, signs_in in cases:
            before = CountingHasher.verified
            assert (accounts.check_password(conn, name, password) is not None) is signs_in, name
            assert CountingHasher.verified == before + 1, name


def test_acc003_role_password_and_disable_end_the_sessions(engine):
    """set_role, reset_password and disable_account each bump the session epoch; a reset password replaces the
    old one; a disabled account no longer signs in; record_sign_in stores the time."""
    when = datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=timezone.utc)
    with engine.begin() as conn:
        account = accounts.add_account(conn, "bob", PASSWORD, Role.VIEWER)
        accounts.record_sign_in(conn, account.id, when)
        assert accounts.get_account(conn, account.id).last_sign_in_at == when
        assert accounts.set_role(conn, "BOB", Role.ADMIN).session_epoch == 1
        assert accounts.get_account(conn, account.id).role is Role.ADMIN
        assert accounts.set_role(conn, "bob", "analyst").role is Role.ANALYST
        reset = accounts.reset_password(conn, "bob", "a new secret")
        assert reset.session_epoch == 3
    with engine.begin() as conn:
        assert accounts.check_password(conn, "bob", PASSWORD) is None
        assert accounts.check_password(conn, "bob", "a new secret") == reset
        disabled = accounts.disable_account(conn, "bob")
        assert disabled.disabled and disabled.session_epoch == 4
        assert accounts.check_password(conn, "bob", "a new secret") is None
        assert accounts.find_account(conn, "bob") == disabled  # still listed
        assert accounts.count_accounts(conn) == 1 and accounts.count_active_admins(conn) == 0


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_acc004_hostile_names_are_refused_and_nothing_stored(engine, name):
    """A name breaking the rule is refused by every function with the rule in one short line; nothing is stored."""
    with engine.begin() as conn:
        accounts.add_account(conn, "keeper", PASSWORD, Role.ADMIN)
    for call in (lambda c: accounts.add_account(c, name, PASSWORD, Role.VIEWER),
                 lambda c: accounts.set_role(c, name, Role.ADMIN),
                 lambda c: accounts.reset_password(c, name, PASSWORD),
                 lambda c: accounts.disable_account(c, name),
                 lambda c: accounts.remove_account(c, name),
                 lambda c: accounts.create_token(c, "keeper", name, Scope.READ, None),
                 lambda c: accounts.create_token(c, name, "ci", Scope.READ, None)):
        with pytest.raises(AccountError) as caught, engine.begin() as conn:
            call(conn)
        message = str(caught.value)
        assert isinstance(caught.value, BadInput) and accounts.NAME_RULE in message, message
        assert "\n" not in message and "\x00" not in message and "\x1b" not in message and len(message) < 200
    with engine.begin() as conn:
        assert [a.name for a in accounts.list_accounts(conn)] == ["keeper"]
        assert accounts.list_tokens(conn) == [] and accounts.check_password(conn, name, PASSWORD) is None
        assert accounts.find_account(conn, name) is None


def test_acc005_taken_names_weak_passwords_and_bad_roles_are_refused(engine):
    """A name taken in another case, a password under 8 or over 1024 characters and an unknown role are refused
    with their reason; nothing is stored; a removed name can be used again."""
    with engine.begin() as conn:
        accounts.add_account(conn, "Carol", PASSWORD, Role.VIEWER)
    refusals = [(lambda c: accounts.add_account(c, "carol", PASSWORD, Role.VIEWER), "'Carol' exists already"),
                (lambda c: accounts.add_account(c, "dan", "seven77", Role.VIEWER), "at least 8 characters"),
                (lambda c: accounts.add_account(c, "dan", "p" * 1025, Role.VIEWER), "at most 1024 characters"),
                (lambda c: accounts.add_account(c, "dan", PASSWORD, "root"), "unknown role 'root'"),
                (lambda c: accounts.set_role(c, "carol", "superuser"), "unknown role 'superuser'"),
                (lambda c: accounts.set_role(c, "nobody", Role.ADMIN), "no account named 'nobody'"),
                (lambda c: accounts.reset_password(c, "carol", "short"), "at least 8 characters"),
                (lambda c: accounts.remove_account(c, "nobody"), "no account named 'nobody'")]
    for call, reason in refusals:
        with pytest.raises(AccountError, match=reason), engine.begin() as conn:
            call(conn)
    with engine.begin() as conn:
        [carol] = accounts.list_accounts(conn)
        assert (carol.name, carol.role, carol.session_epoch) == ("Carol", Role.VIEWER, 0)
        assert accounts.check_password(conn, "carol", PASSWORD) == carol
        accounts.remove_account(conn, "CAROL")
        assert accounts.count_accounts(conn) == 0
        again = accounts.add_account(conn, "carol", "another password", Role.ADMIN)
        assert again.id > carol.id  # a removed account's id is not handed out again


def test_acc006_an_old_hash_is_replaced_at_sign_in(engine):
    """A hash made with other argon2 parameters still signs in and is replaced by one with the current
    parameters."""
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        account = accounts.add_account(conn, "erin", "first password", Role.VIEWER)
        conn.execute(sa.update(db.accounts).where(db.accounts.c.id == account.id).values(password_hash=old))
    with engine.begin() as conn:
        assert accounts.check_password(conn, "erin", PASSWORD) == account
        stored = conn.execute(sa.select(db.accounts.c.password_hash)).scalar_one()
    assert stored != old and not PasswordHasher().check_needs_rehash(stored)
    with engine.begin() as conn:
        assert accounts.check_password(conn, "erin", PASSWORD) == account


def test_acc007_a_read_only_duckdb_connection_signs_in_without_writing(tmp_path):
    """The web workers read a DuckDB file read-only: check_password with an old hash signs in there too and
    leaves the hash for a writable connection; count_accounts is 0 before the account tables exist."""
    url = f"duckdb:///{tmp_path / 'ro.duckdb'}"
    writer = db.make_engine(url)
    with writer.begin() as conn:
        conn.execute(sa.text("CREATE TABLE visits_of_another_tool (x INTEGER)"))
    writer.dispose()
    reader = db.make_engine(url, read_only=True)
    with reader.connect() as conn:
        assert accounts.count_accounts(conn) == 0
    reader.dispose()
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    writer = db.make_engine(url)
    db.create_schema(writer)
    with writer.begin() as conn:
        account = accounts.add_account(conn, "frank", PASSWORD, Role.VIEWER)
        conn.execute(sa.update(db.accounts).values(password_hash=old))
    writer.dispose()
    reader = db.make_engine(url, read_only=True)
    with reader.begin() as conn:
        assert accounts.check_password(conn, "frank", PASSWORD) == account
        assert conn.execute(sa.select(db.accounts.c.password_hash)).scalar_one() == old
    reader.dispose()


def test_acc008_tokens_verify_until_expired_revoked_or_disabled(engine):
    """A token verifies with its account until its expiry, its revocation or its account's disabling; its text
    is returned once, has the mkd_ prefix, and only its SHA-256 hash is stored (nowhere else in the database)."""
    with engine.begin() as conn:
        account = accounts.add_account(conn, "grace", PASSWORD, Role.ANALYST)
        token, secret = accounts.create_token(conn, "GRACE", "ci-job", Scope.SCORE, 30)
        forever, forever_secret = accounts.create_token(conn, "grace", "notebook", "read", None)
    assert secret.startswith("mkd_") and len(secret) == 4 + 43 and secret != forever_secret
    assert (token.account_id, token.account_name, token.name, token.scope, token.revoked_at, token.last_used_at) == (
        account.id, "grace", "ci-job", Scope.SCORE, None, None)
    assert token.expires_at - token.created_at == timedelta(days=30) and forever.expires_at is None
    with engine.begin() as conn:
        text = all_stored_text(conn)
        assert secret not in text and secret[4:] not in text and forever_secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() in text
        now = datetime.now(timezone.utc)
        assert accounts.verify_token(conn, secret, now) == (account, token)
        assert accounts.verify_token(conn, secret, token.expires_at - timedelta(seconds=1)) == (account, token)
        assert accounts.verify_token(conn, secret, token.expires_at) is None  # expired
        assert accounts.verify_token(conn, secret, token.expires_at.replace(tzinfo=None)) is None  # naive: UTC
        assert accounts.verify_token(conn, forever_secret, now + timedelta(days=36500))[1] == forever
        for forged in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), secret[4:], "mkd_", "", "x" * 10_000,
                       "mkd_' OR 1=1 --" + "a" * 30, secret + "\n", secret.upper(), None):
            assert accounts.verify_token(conn, forged, now) is None, forged
        accounts.record_token_use(conn, token.id, now)
        assert accounts.get_token(conn, token.id).last_used_at == now
        revoked = accounts.revoke_token(conn, token.id)
        assert revoked.revoked_at is not None and accounts.verify_token(conn, secret, now) is None
        assert accounts.revoke_token(conn, token.id).revoked_at == revoked.revoked_at  # kept
        assert accounts.verify_token(conn, forever_secret, now) is not None
        accounts.disable_account(conn, "grace")
        assert accounts.verify_token(conn, forever_secret, now) is None


def test_acc009_token_refusals_and_lists(engine):
    """create_token refuses an unknown or disabled account, a bad scope, a bad expiry and a bad name, storing
    nothing; list_tokens lists all or one account's tokens; revoke_token refuses an unknown id; removing an account
    deletes its tokens."""
    with engine.begin() as conn:
        accounts.add_account(conn, "heidi", PASSWORD, Role.ADMIN)
        accounts.add_account(conn, "ivan", PASSWORD, Role.VIEWER)
        accounts.add_account(conn, "judy", PASSWORD, Role.VIEWER)
        accounts.disable_account(conn, "judy")
        heidi_token, heidi_secret = accounts.create_token(conn, "heidi", "one", Scope.READ, 1)
        ivan_token, ivan_secret = accounts.create_token(conn, "ivan", "two", Scope.READ, 3650)
    refusals = [(("nobody", "t", Scope.READ, None), "no account named 'nobody'"),
                (("judy", "t", Scope.READ, None), "'judy' is disabled"),
                (("heidi", "t", "write", None), "unknown scope 'write'"),
                (("heidi", "t", Scope.READ, 0), "invalid expiry 0"),
                (("heidi", "t", Scope.READ, -5), "invalid expiry -5"),
                (("heidi", "t", Scope.READ, 3651), "invalid expiry 3651"),
                (("heidi", "t", Scope.READ, True), "invalid expiry True"),
                (("heidi", "t", Scope.READ, 1.5), "invalid expiry 1.5"),
                (("heidi", "t t", Scope.READ, None), "invalid token name 't t'")]
    for arguments, reason in refusals:
        with pytest.raises(AccountError, match=reason), engine.begin() as conn:
            accounts.create_token(conn, *arguments)
    for token_id in (0, -1, 999, 2**40, "1", None):
        with pytest.raises(AccountError, match="token (with )?id"), engine.begin() as conn:
            accounts.revoke_token(conn, token_id)
    with engine.begin() as conn:
        assert accounts.list_tokens(conn) == [heidi_token, ivan_token]
        assert accounts.list_tokens(conn, "IVAN") == [ivan_token]
        assert accounts.list_tokens(conn, "judy") == []
        with pytest.raises(AccountError, match="no account named 'nobody'"):
            accounts.list_tokens(conn, "nobody")
        accounts.remove_account(conn, "ivan")
        assert accounts.list_tokens(conn) == [heidi_token]
        assert accounts.verify_token(conn, ivan_secret, datetime.now(timezone.utc)) is None
        assert accounts.verify_token(conn, heidi_secret, datetime.now(timezone.utc))[1] == heidi_token


def test_acc010_roles_rank_admin_over_analyst_over_viewer():
    """Role.allows: a role has the rights of itself and of the roles below it only."""
    ranked = [Role.VIEWER, Role.ANALYST, Role.ADMIN]
    for i, role in enumerate(ranked):
        for j, needed in enumerate(ranked):
            assert role.allows(needed) is (i >= j), (role, needed)
    assert Role("admin") is Role.ADMIN and Scope("score") is Scope.SCORE
    with pytest.raises(AccountError, match="one of viewer, analyst, admin"):
        accounts.parse_role("Admin")


def test_acc011_audit_events_newest_first_cleaned_and_bounded(engine):
    """record_event stores the event with its time; recent_events returns them newest first up to the limit;
    control characters are replaced and long texts cut to their column; an unknown event name is a ValueError."""
    before = datetime.now(timezone.utc)
    with engine.begin() as conn:
        audit.record_event(conn, event="sign_in", actor="alice", address="203.0.113.9", outcome="ok")
        audit.record_event(conn, event="sign_in", actor="mallory\nsign_in admin ok", address="::1",
                           outcome="failed", detail="x" * 5000)
        audit.record_event(conn, event="job", actor="alice", address="203.0.113.9", outcome="ok",
                           detail="train churn")
        with pytest.raises(ValueError, match="unknown audit event 'dropped_tables'"):
            audit.record_event(conn, event="dropped_tables", actor="a", address="", outcome="ok")
    with engine.begin() as conn:
        events = audit.recent_events(conn)
        assert [e.event for e in events] == ["job", "sign_in", "sign_in"]
        assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)
        failed = events[1]
        assert failed.actor == "mallory?sign_in admin ok" and failed.outcome == "failed"
        assert len(failed.detail) == 1000 and failed.detail.endswith("…")
        assert all(before - timedelta(seconds=1) <= e.at <= datetime.now(timezone.utc) for e in events)
        assert events[2] == audit.AuditEvent(id=events[2].id, at=events[2].at, event="sign_in", actor="alice",
                                             address="203.0.113.9", outcome="ok", detail="")
        assert [e.event for e in audit.recent_events(conn, limit=1)] == ["job"]
        assert len(audit.recent_events(conn, limit=0)) == 1  # at least one


def test_acc012_account_tables_added_to_a_database_of_an_earlier_version(engine):
    """create_schema adds the account tables to a database made before them, and leaves them (and their rows)
    alone when they exist."""
    with engine.begin() as conn:
        for table in reversed(db.ACCOUNT_TABLES):
            table.drop(conn)
    db.create_schema(engine)
    with engine.begin() as conn:
        assert {t.name for t in db.ACCOUNT_TABLES} <= set(sa.inspect(conn).get_table_names())
        accounts.add_account(conn, "kim", PASSWORD, Role.VIEWER)
    db.create_schema(engine)
    with engine.begin() as conn:
        assert [a.name for a in accounts.list_accounts(conn)] == ["kim"]


def test_acc013_a_role_that_may_only_write_rows_still_imports(tmp_path, caplog):
    """PostgreSQL: for a role with row privileges only, create_schema on a database made before the account
    tables logs the CREATE TABLE for the owner instead of failing; count_accounts is then 0."""
    url, cleanup = make_database_url("postgresql", tmp_path)
    owner = db.make_engine(url)
    role = f"writer_{uuid.uuid4().hex[:10]}"
    with owner.begin() as conn:
        db.create_schema(conn)
        for table in reversed(db.ACCOUNT_TABLES):
            table.drop(conn)
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")  # a generated name
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.exec_driver_sql(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    writer = None
    try:
        writer = db.make_engine(sa.make_url(url).set(username=role).render_as_string(hide_password=False))
        with caplog.at_level("WARNING", logger="dashboard.db"), writer.begin() as conn:
            db.create_schema(conn)
            assert accounts.count_accounts(conn) == 0
        assert "permission denied for schema" in caplog.text and "CREATE TABLE accounts" in caplog.text
    finally:
        if writer is not None:
            writer.dispose()
        owner.dispose()
        cleanup()
        admin = sa.create_engine(db.resolve_url(PG_TEST_URL))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_acc014_two_transactions_adding_one_name(tmp_path):
    """PostgreSQL: when two transactions add the same name at once, the second gets the clear AccountError (from
    the unique key) once the first commits, and one account exists."""
    import threading

    url, cleanup = make_database_url("postgresql", tmp_path)
    engine = db.make_engine(url)
    db.create_schema(engine)
    outcome = {}

    def second() -> None:
        """Add the same name in another transaction; keep its error."""
        try:
            with engine.begin() as conn:
                accounts.add_account(conn, "Zed", "another password", Role.ADMIN)
        except AccountError as exc:
            outcome["error"] = str(exc)

    try:
        with engine.begin() as conn:
            accounts.add_account(conn, "zed", PASSWORD, Role.VIEWER)
            thread = threading.Thread(target=second)
            thread.start()
            thread.join(1.5)  # waits on the unique key until this transaction ends
            assert thread.is_alive()
        thread.join(30)
        assert outcome == {"error": "an account named 'Zed' exists already (added meanwhile)"}
        with engine.begin() as conn:
            assert [(a.name, a.role) for a in accounts.list_accounts(conn)] == [("zed", Role.VIEWER)]
    finally:
        engine.dispose()
        cleanup()
