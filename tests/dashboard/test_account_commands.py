"""`python -m dashboard users ...` and `tokens ...` (issue 19) on DuckDB, SQLite and PostgreSQL: each command
changes the database with its audit event (actor "cli"); a refused command exits 2 with one line and changes
nothing; neither a password nor a token's text is stored or logged."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import accounts, audit, cli, db
from dashboard.accounts import Role, Scope
from tests.dashboard.test_accounts import HOSTILE_NAMES, all_stored_text

REPO = Path(__file__).resolve().parents[2]
ALICE_PASSWORD = "alice's long secret"
BOB_PASSWORD = "bob password one"
BOB_NEW_PASSWORD = "bob password two"


def run_cli(monkeypatch, capsys, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """Return (exit code, stdout, stderr) of the CLI run in this process with `stdin` as standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def database_state(url: str) -> tuple:
    """Return the rows of the account tables (what a refused command must leave unchanged)."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(tuple(conn.execute(sa.select(table).order_by(table.c.id)).all())
                         for table in db.ACCOUNT_TABLES)
    finally:
        engine.dispose()


def test_cmd001_users_and_tokens_from_add_to_remove(database_url, monkeypatch, capsys):
    """The whole life of two accounts and a token through the CLI: each step changes what it says, records its
    audit event, and the token is printed alone on standard output once, stored nowhere."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert run_cli(monkeypatch, capsys, ["users", "list"])[1].startswith("no accounts: the dashboard is open")
    code, out, err = run_cli(monkeypatch, capsys, ["users", "add", "alice", "--role", "admin", "--password-stdin"],
                             ALICE_PASSWORD + "\n")
    assert (code, err) == (0, "")
    assert out == ("account alice added (id 1, role admin)\n"
                   "this is the first account: from now on the dashboard asks everyone to sign in\n")
    code, out, _ = run_cli(monkeypatch, capsys, ["users", "add", "Bob", "--role", "viewer", "--password-stdin"],
                           BOB_PASSWORD + "\r\n")
    assert code == 0 and out == "account Bob added (id 2, role viewer)\n"
    assert run_cli(monkeypatch, capsys, ["users", "set-role", "bob", "analyst"])[:2] == (
        0, "account Bob: role analyst (its sessions end)\n")
    assert run_cli(monkeypatch, capsys, ["users", "reset-password", "BOB", "--password-stdin"],
                   BOB_NEW_PASSWORD)[:2] == (0, "account Bob: password changed (its sessions end)\n")
    code, out, err = run_cli(monkeypatch, capsys, ["tokens", "create", "nightly-export", "--account", "bob",
                                                   "--scope", "score", "--expires-days", "7"])
    secret = out.strip()
    assert code == 0 and out == secret + "\n" and secret.startswith("mkd_") and len(secret) == 47
    assert "API token 1 'nightly-export' for Bob (scope score, expires " in err and secret not in err
    code, out, _ = run_cli(monkeypatch, capsys, ["users", "list"])
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].split()[:3] == ["id", "name", "role"]
    assert lines[1].split()[1:3] == ["alice", "admin"] and lines[1].endswith("active")
    assert lines[2].split()[1:3] == ["Bob", "analyst"]

    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            assert accounts.check_password(conn, "bob", BOB_NEW_PASSWORD).role is Role.ANALYST
            assert accounts.check_password(conn, "bob", BOB_PASSWORD) is None
            bob, token = accounts.verify_token(conn, secret, datetime.now(timezone.utc))
            assert (bob.name, bob.session_epoch, token.scope, token.name) == ("Bob", 2, Scope.SCORE, "nightly-export")
    finally:
        engine.dispose()
    code, out, _ = run_cli(monkeypatch, capsys, ["tokens", "list"])
    assert code == 0 and secret not in out and secret[4:12] not in out
    assert out.splitlines()[1].split()[:4] == ["1", "nightly-export", "Bob", "score"]
    assert out.splitlines()[1].endswith("active")
    assert run_cli(monkeypatch, capsys, ["tokens", "list", "--account", "alice"])[1] == "no API tokens\n"
    code, out, _ = run_cli(monkeypatch, capsys, ["tokens", "revoke", "1"])
    assert code == 0 and out.startswith("API token 1 'nightly-export' of Bob revoked at ")
    assert run_cli(monkeypatch, capsys, ["tokens", "revoke", "1"])[0] == 0  # again: no second event
    assert "revoked 20" in run_cli(monkeypatch, capsys, ["tokens", "list"])[1]
    assert run_cli(monkeypatch, capsys, ["users", "disable", "bob"])[:2] == (
        0, "account Bob disabled: no sign-in, no API token, its sessions end\n")
    assert run_cli(monkeypatch, capsys, ["users", "remove", "bob"])[:2] == (
        0, "account Bob removed, with 1 API token(s)\n")

    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            assert [a.name for a in accounts.list_accounts(conn)] == ["alice"] and accounts.list_tokens(conn) == []
            events = list(reversed(audit.recent_events(conn)))
            text = all_stored_text(conn)
    finally:
        engine.dispose()
    assert [(e.event, e.actor, e.address, e.outcome) for e in events] == [
        (event, "cli", "", "ok") for event in ("account_add", "account_add", "role_change", "password_reset",
                                               "token_create", "token_revoke", "account_disable", "account_remove")]
    assert [e.detail for e in events][:4] == ["account alice role admin", "account Bob role viewer",
                                              "account Bob: viewer -> analyst", "account Bob"]
    assert events[4].detail.startswith("token 1 nightly-export of Bob, scope score, expires 20")
    assert events[7].detail == "account Bob, 1 API token(s) deleted"
    for secret_text in (ALICE_PASSWORD, BOB_PASSWORD, BOB_NEW_PASSWORD, secret, secret[4:]):
        assert secret_text not in text


REFUSALS = [
    (["users", "add", "dora", "--role", "viewer", "--password-stdin"], "seven77\n", "at least 8 characters"),
    (["users", "add", "dora", "--role", "viewer", "--password-stdin"], "", "no password on standard input"),
    (["users", "add", "dora", "--role", "viewer"], "", "no terminal to ask the password on"),
    (["users", "add", "dora", "--role", "root", "--password-stdin"], "long enough\n", "unknown role 'root'"),
    (["users", "add", "ALICE", "--role", "viewer", "--password-stdin"], "long enough\n", "'alice' exists already"),
    (["users", "add", "dora", "--role", "viewer", "--password-stdin"], "p" * 2000 + "\n", "at most 1024"),
    (["users", "add", "Alice", "--role", "viewer"], "", "'alice' exists already"),  # said before any prompt
    (["users", "reset-password", "nobody"], "", "no account named 'nobody'"),  # said before any prompt
    (["users", "set-role", "nobody", "admin"], "", "no account named 'nobody'"),
    (["users", "set-role", "alice", "owner"], "", "unknown role 'owner'"),
    (["users", "reset-password", "nobody", "--password-stdin"], "long enough\n", "no account named 'nobody'"),
    (["users", "disable", "nobody"], "", "no account named 'nobody'"),
    (["users", "remove", "nobody"], "", "no account named 'nobody'"),
    (["tokens", "create", "ci", "--account", "nobody"], "", "no account named 'nobody'"),
    (["tokens", "create", "ci", "--account", "alice", "--scope", "admin"], "", "unknown scope 'admin'"),
    (["tokens", "create", "ci", "--account", "alice", "--expires-days", "0"], "", "invalid expiry 0"),
    (["tokens", "create", "ci", "--account", "alice", "--expires-days", "ten"], "", "not a whole number: 'ten'"),
    (["tokens", "create", "c i", "--account", "alice"], "", "invalid token name 'c i'"),
    (["tokens", "list", "--account", "nobody"], "", "no account named 'nobody'"),
    (["tokens", "revoke", "7"], "", "no API token with id 7"),
    (["tokens", "revoke", "-1"], "", "invalid token id -1"),
    (["tokens", "revoke", "1; DROP TABLE accounts"], "", "not a whole number: '1; DROP TABLE accounts'"),
] + [(["users", "add", name, "--role", "viewer", "--password-stdin"], "long enough\n", "invalid account name")
     for name in HOSTILE_NAMES if "\x00" not in name]  # an argument cannot carry NUL


def test_cmd002_refused_commands_exit_2_with_one_line_and_change_nothing(database_url, monkeypatch, capsys):
    """Every refusal (bad input, unknown account or token, weak or missing password, hostile names) exits 2 with
    one `error:` line naming the reason; the account tables are exactly as before."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert run_cli(monkeypatch, capsys, ["users", "add", "alice", "--role", "admin", "--password-stdin"],
                   ALICE_PASSWORD + "\n")[0] == 0
    before = database_state(database_url)
    for argv, stdin, reason in REFUSALS:
        code, out, err = run_cli(monkeypatch, capsys, argv, stdin)
        assert (code, out) == (2, ""), argv
        assert err.startswith("error: ") and err.count("\n") == 1 and reason in err and len(err) < 200, (argv, err)
    assert database_state(database_url) == before


def _pty_session(argv: list[str], answers: list[str], env: dict) -> tuple[int, str]:
    """Run `python -m dashboard argv` with a pseudo-terminal as standard input, typing each answer after a
    "Password" prompt; return (exit code, everything it wrote to the terminal and standard error)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dashboard", *argv], stdin=terminal, stdout=terminal,
                               stderr=subprocess.PIPE, cwd=REPO, env=env, start_new_session=True)
    os.close(terminal)
    seen, pending, deadline = "", list(answers), time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([controller, process.stderr], [], [], 0.5)
        for stream in ready:
            try:
                chunk = os.read(controller if stream == controller else process.stderr.fileno(), 4096)
            except OSError:  # the terminal's other end closed: the process is ending
                chunk = b""
            seen += chunk.decode(errors="replace")
        if pending and seen.count("Password") > len(answers) - len(pending):
            os.write(controller, (pending.pop(0) + "\n").encode())
    process.wait(timeout=10)
    seen += process.stderr.read().decode(errors="replace")
    os.close(controller)
    return process.returncode, seen


def test_cmd003_the_password_prompt_asks_twice_on_a_terminal(tmp_path):
    """On a terminal `users add` asks the password twice without echoing it: two different answers are refused
    (exit 2, nothing stored), the same answer twice adds the account with that password."""
    url = f"sqlite:///{tmp_path / 'prompt.sqlite'}"
    env = {**os.environ, "DATABASE_URL": url}
    code, seen = _pty_session(["users", "add", "erin", "--role", "analyst"], ["first secret", "second secret"], env)
    assert code == 2 and "Password: " in seen and "Password again: " in seen, seen
    assert "error: the two passwords differ: nothing was changed" in seen and "first secret" not in seen
    engine = db.make_engine(url)
    with engine.connect() as conn:
        assert accounts.count_accounts(conn) == 0
    code, seen = _pty_session(["users", "add", "erin", "--role", "analyst"], ["same secret", "same secret"], env)
    assert code == 0 and "account erin added (id 1, role analyst)" in seen and "same secret" not in seen, seen
    with engine.begin() as conn:
        assert accounts.check_password(conn, "erin", "same secret").role is Role.ANALYST
    engine.dispose()


@pytest.mark.parametrize("argv", [["users", "--help"], ["tokens", "--help"]])
def test_cmd004_help_lists_the_subcommands(argv, capsys):
    """`users --help` and `tokens --help` list every subcommand the issue names."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    out = capsys.readouterr().out
    assert stopped.value.code == 0
    names = (["add", "list", "set-role", "reset-password", "disable", "remove"] if argv[0] == "users"
             else ["create", "list", "revoke"])
    assert all(f"    {name}" in out for name in names), out
