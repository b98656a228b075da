"""gunicorn settings for `gunicorn app:server` (read automatically from the working directory).

Every value can be overridden from the environment: GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS,
GUNICORN_TIMEOUT.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8050")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


# Run in a child process by `on_starting` with HOST set to one bind address: dashboard.auth_startup.check_open_bind
# (SystemExit with the reason on a non-loopback address while the database holds no account, unless AUTH_DISABLED=1).
OPEN_BIND_CHECK = ("import dataclasses, os; from dashboard.auth_startup import check_open_bind; "
                   "from dashboard.config import Config; "
                   "check_open_bind(dataclasses.replace(Config.from_env(), host=os.environ['HOST']))")


def bind_hosts(binds):
    """Return the host of every TCP bind address in `binds` ("0.0.0.0:8050", "[::1]:80"); unix sockets and file
    descriptors have none (the process behind them decides who reaches them)."""
    from gunicorn.util import parse_address

    hosts = []
    for bind in binds:
        address = parse_address(bind)
        if isinstance(address, tuple):
            hosts.append(address[0])
    return hosts


def on_starting(server):
    """Refuse to start on a non-loopback bind while the database holds no account (unless AUTH_DISABLED=1), then
    fill an empty embedded database once, before any worker starts.

    Both run in separate processes: the master must not load DuckDB itself, because workers forked
    from a process holding DuckDB's internal state hang on exit (measured: every shutdown waited the
    whole graceful timeout).
    """
    import subprocess
    import sys

    for host in bind_hosts(server.cfg.bind):
        check = subprocess.run([sys.executable, "-c", OPEN_BIND_CHECK], env={**os.environ, "HOST": host},
                               capture_output=True, text=True)
        if check.returncode != 0:
            reason = (check.stderr.strip().splitlines() or [f"the open-bind check failed ({check.returncode})"])[-1]
            server.log.error("refusing to start: %s", reason)
            raise SystemExit(f"refusing to start: {reason}")
    subprocess.run([sys.executable, "-m", "dashboard.bootstrap"], check=True)
