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


def on_starting(server):
    """Fill an empty embedded database once, before any worker starts.

    It runs in a separate process: the master must not load DuckDB itself, because workers forked
    from a process holding DuckDB's internal state hang on exit (measured: every shutdown waited the
    whole graceful timeout).
    """
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "dashboard.bootstrap"], check=True)
