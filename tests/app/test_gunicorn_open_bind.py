"""gunicorn (gunicorn.conf.py's on_starting hook) refuses a non-loopback bind while the database holds no account,
as `python app.py` does, unless AUTH_DISABLED=1; with an account it starts (sign-in protects it). Real gunicorn in a
subprocess on a free port, a real SQLite database file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dashboard.accounts import Role
from tests.app.auth_helpers import add_account

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_env(url: str, port: int, **extra: str) -> dict[str, str]:
    """Return the environment of a one-worker gunicorn bound to 0.0.0.0:`port` on database `url` (no demo fill)."""
    env = {key: value for key, value in os.environ.items() if key not in ("AUTH_DISABLED", "HOST")}
    return {**env, "DATABASE_URL": url, "DEMO_AUTOFILL": "0", "GUNICORN_BIND": f"0.0.0.0:{port}",
            "GUNICORN_WORKERS": "1", "MODEL_DIR": str(Path(url.removeprefix("sqlite:///")).parent / "models"), **extra}


def serves_health(env: dict[str, str], port: int, log_path: Path) -> int:
    """Start gunicorn with `env`, return the status of GET /health once it answers, then stop it cleanly."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                        return answer.status
                except OSError:
                    time.sleep(0.3)
            raise AssertionError("gunicorn did not answer in 90 s: " + log_path.read_text()[-3000:])
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)


def test_go001_gunicorn_on_0_0_0_0_without_accounts_exits_with_the_reason(tmp_path):
    url = f"sqlite:///{tmp_path / 'open.sqlite'}"
    port = free_port()
    refused = subprocess.run([sys.executable, "-m", "gunicorn", "app:server"], cwd=REPO,
                             env=gunicorn_env(url, port), capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "refusing to start: HOST=0.0.0.0 is reachable from other machines and the database holds no account" \
        in output, output[-3000:]
    assert "AUTH_DISABLED=1" in output and "Booting worker" not in output
    with socket.socket() as probe:  # nothing listens on the port
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_go002_gunicorn_on_0_0_0_0_starts_with_auth_disabled_or_with_an_account(tmp_path):
    url = f"sqlite:///{tmp_path / 'open.sqlite'}"
    port = free_port()
    assert serves_health(gunicorn_env(url, port, AUTH_DISABLED="1"), port, tmp_path / "disabled.log") == 200
    add_account(url, "root", Role.ADMIN)
    port = free_port()
    assert serves_health(gunicorn_env(url, port), port, tmp_path / "account.log") == 200
    log = (tmp_path / "account.log").read_text()
    assert "refusing to start" not in log and "Booting worker" in log
