"""The metric cache: memoized metric results keyed on (function, Filters, parameters, data version, code version).

Backends: an in-process `ByteBudgetCache` by default (a least-recently-used cache bounded by the bytes
it holds, `CACHE_MAX_MB`, not by a count of entries: one crafted request once left ~400 MB in a count-bounded
cache), flask-caching's `RedisCache` when `CACHE_REDIS_URL` is set (shared by every gunicorn worker and host). Keys are a SHA-256 of a
canonical JSON text (never Python's salted `hash`), so every process computes the same key.
The data version is part of the key, so an import (which bumps it) is visible at once; so is the code version of
the metrics package (a SHA-256 of the source of every `metrics/*.py`, computed once per process), so a fixed
metric is computed anew after a deploy instead of staying hidden in Redis until the timeout.
If Redis fails, the metric is computed without the cache and the failure is logged (once per
`RETRY_SECONDS`; the cache is retried after that).

Usage in a callback::

    with metric_reader(ctx) as read:
        daily = read(metrics.activity_daily, filters)
        roi = read(metrics.roi, filters, horizon=14)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import pickle
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from flask_caching.backends import RedisCache
from flask_caching.backends.base import BaseCache

import metrics
from dashboard import db
from dashboard.backends import backend_spec
from dashboard.config import Config

log = logging.getLogger(__name__)

CONTEXT_KEY = "metric_cache"
RETRY_SECONDS = 30.0
DEFAULT_KEY_PREFIX = "dashboard:metric:"


def _canonical(value: Any) -> Any:
    """Return `value` as plain JSON-able data with a single, order-independent spelling."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__,
                **{f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return repr(value)


def function_name(fn: Callable) -> str:
    """Return the dotted name of `fn` (module and qualified name) used in cache keys."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def stable_key(namespace: str, payload: Any) -> str:
    """Return "namespace:sha256(canonical JSON of payload)", the same in every process and host."""
    text = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"))
    return f"{namespace}:{hashlib.sha256(text.encode()).hexdigest()}"


def source_version(package_dir: Path) -> str:
    """Return the SHA-256 (hex) of the relative paths and bytes of every .py file under `package_dir`."""
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py"), key=lambda p: p.relative_to(package_dir).as_posix()):
        source = path.read_bytes()
        digest.update(f"{path.relative_to(package_dir).as_posix()}\0{len(source)}\0".encode())
        digest.update(source)
    return digest.hexdigest()


METRICS_DIR = Path(metrics.__file__).resolve().parent


@lru_cache(maxsize=1)
def metrics_code_version() -> str:
    """Return the code version of the metrics package (source_version of METRICS_DIR), computed once per process."""
    return source_version(METRICS_DIR)


def cache_key(fn: Callable, filters: Any, params: dict[str, Any], data_version: str,
              code_version: str | None = None) -> str:
    """Return the cache key of one metric call: stable across processes, hosts and restarts, new when the data
    version or the metrics code version (default: metrics_code_version()) changes."""
    return stable_key(function_name(fn), {"fn": function_name(fn), "filters": filters, "params": params,
                                          "data_version": str(data_version),
                                          "code_version": code_version or metrics_code_version()})


def memo_key(namespace: str, payload: Any, data_version: str, code_version: str | None = None) -> str:
    """Return the key of a memoized computed value (a chart's content): new when the data version or the metrics
    code version (default: metrics_code_version()) changes."""
    return stable_key(namespace, {"payload": payload, "data_version": str(data_version),
                                  "code_version": code_version or metrics_code_version()})


# DuckDB file -> (fingerprint of the file and its WAL, data version read then). Web workers open the file
# read-only per request (NullPool: ~30 ms a connection); any write (an import) changes the file or its WAL,
# so an unchanged fingerprint means an unchanged data version and a fully cached request needs no connection.
_DUCKDB_VERSIONS: dict[str, tuple[tuple, str]] = {}


def duckdb_file(engine) -> Path | None:
    """Return the database file whose fingerprint changes with every write, as the engine's spec names it (the
    DuckDB file; None for other backends and in-memory DuckDB)."""
    return backend_spec(engine).fingerprint_file(engine.url)


def file_fingerprint(path: Path) -> tuple:
    """Return (mtime_ns, size) of a DuckDB file and of its write-ahead log (None when absent)."""
    def stat(p: Path):
        try:
            st = p.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    return stat(path), stat(path.with_name(path.name + ".wal"))


ENTRY_OVERHEAD_BYTES = 200  # bookkeeping counted per entry on top of its key and pickled value
MAX_ITEM_SHARE = 8  # a single result larger than budget / MAX_ITEM_SHARE is not cached


class ByteBudgetCache(BaseCache):
    """An in-process least-recently-used cache holding at most `max_bytes` of pickled values.

    Values are stored pickled (as flask-caching's SimpleCache does, so a caller never shares a mutable result);
    an entry's size is its key, its pickle and ENTRY_OVERHEAD_BYTES. A value whose entry exceeds `max_item_bytes`
    is not stored (`set` returns False); storing one that overflows the budget evicts the least recently used
    entries first. Thread-safe.
    """

    def __init__(self, max_bytes: int, max_item_bytes: int | None = None, default_timeout: int = 300):
        super().__init__(default_timeout=default_timeout)
        self.max_bytes = max(int(max_bytes), 0)
        self.max_item_bytes = min(self.max_bytes, max_item_bytes if max_item_bytes is not None else self.max_bytes)
        self._entries: OrderedDict[str, tuple[float, bytes, int]] = OrderedDict()  # key -> (expires, pickle, size)
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0
        self.refused = 0

    @property
    def size_bytes(self) -> int:
        """Return the bytes the entries take (keys, pickles and overhead)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _expiry(self, timeout: int | None) -> float:
        """Return the monotonic time an entry set now with `timeout` expires (inf: never)."""
        timeout = self.default_timeout if timeout is None else timeout
        return math.inf if timeout <= 0 else time.monotonic() + timeout

    def _drop(self, key: str) -> None:
        """Remove `key` (lock held)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def get(self, key: str) -> Any:
        """Return the value of `key` (None when absent or expired) and mark it recently used."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            data = entry[1]
        return pickle.loads(data)

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        """Store `value` under `key`; False (and nothing stored) when it alone is larger than max_item_bytes."""
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        size = len(data) + len(key) + ENTRY_OVERHEAD_BYTES
        with self._lock:
            self._drop(key)
            if size > self.max_item_bytes:
                self.refused += 1
                log.info("metric cache: not storing a %d-byte result (limit %d bytes)", size, self.max_item_bytes)
                return False
            self._entries[key] = (self._expiry(timeout), data, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                self.evictions += 1
        return True

    def add(self, key: str, value: Any, timeout: int | None = None) -> bool:
        """Store `value` only when `key` is absent; True when stored."""
        if self.has(key):
            return False
        return self.set(key, value, timeout)

    def delete(self, key: str) -> bool:
        """Remove `key`; True when it was there."""
        with self._lock:
            present = key in self._entries
            self._drop(key)
        return present

    def has(self, key: str) -> bool:
        """True when `key` holds an unexpired value."""
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry[0] > time.monotonic()

    def clear(self) -> bool:
        """Remove every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
        return True


class MetricCache:
    """Memoizes metric results in a flask-caching backend; answers without the cache when it fails."""

    def __init__(self, backend, *, kind: str, timeout: int = 3600):
        self.backend = backend
        self.kind = kind
        self.timeout = timeout
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.errors = 0

    @classmethod
    def from_config(cls, config: Config, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> "MetricCache":
        """Return a Redis cache when config.cache_redis_url is set, else an in-process ByteBudgetCache of
        config.cache_max_mb megabytes (a single result over 1/MAX_ITEM_SHARE of it is not cached)."""
        if config.cache_redis_url:
            import redis

            client = redis.from_url(config.cache_redis_url, socket_connect_timeout=0.5, socket_timeout=2.0)
            backend = RedisCache(host=client, key_prefix=key_prefix, default_timeout=config.cache_timeout)
            return cls(backend, kind="redis", timeout=config.cache_timeout)
        budget = max(config.cache_max_mb, 0) * 2**20
        backend = ByteBudgetCache(budget, budget // MAX_ITEM_SHARE, default_timeout=config.cache_timeout)
        return cls(backend, kind="simple", timeout=config.cache_timeout)

    @property
    def available(self) -> bool:
        """True unless the backend failed within the last RETRY_SECONDS."""
        return time.monotonic() >= self._down_until

    def _failed(self, action: str, exc: BaseException) -> None:
        """Mark the backend down for RETRY_SECONDS and log why (once per outage)."""
        with self._lock:
            self.errors += 1
            was_up = self.available
            self._down_until = time.monotonic() + RETRY_SECONDS
        if was_up:
            log.warning("metric cache (%s) unavailable on %s: %s; answering without the cache for %.0f s",
                        self.kind, action, exc, RETRY_SECONDS)

    def get(self, key: str) -> Any:
        """Return the cached value of `key`, or None when absent or the backend is unavailable."""
        if not self.available:
            return None
        try:
            return self.backend.get(key)
        except Exception as exc:  # noqa: BLE001 - any backend failure means "no cache", never an error page
            self._failed("get", exc)
            return None

    def set(self, key: str, value: Any) -> None:
        """Store `value` under `key` (silently skipped when the backend is unavailable)."""
        if not self.available:
            return
        try:
            self.backend.set(key, value, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001
            self._failed("set", exc)

    def clear(self) -> None:
        """Remove every entry of this cache's key prefix."""
        try:
            self.backend.clear()
        except Exception as exc:  # noqa: BLE001
            self._failed("clear", exc)

    def call(self, fn: Callable, conn_factory: Callable, filters: Any, data_version: str, **params) -> Any:
        """Return fn(conn, filters, **params) (or fn(conn) when filters is None), from the cache when present.

        A `metrics.MetricQuery` is the key itself: `params` are folded into it and it is narrowed to the fields
        `fn` reads (`metrics.narrowed`), so one result serves every query that differs only in fields `fn` ignores.
        """
        if isinstance(filters, metrics.MetricQuery):
            filters, params = metrics.narrowed(filters.with_(**params) if params else filters, fn), {}
        key = cache_key(fn, filters, params, data_version)
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        conn = conn_factory()
        result = fn(conn, **params) if filters is None else fn(conn, filters, **params)
        self.set(key, result)
        return result


def get_metric_cache(ctx) -> MetricCache:
    """Return the metric cache stored on the app context (created from ctx.config on first use)."""
    cache = ctx.extras.get(CONTEXT_KEY)
    if cache is None:
        cache = ctx.extras.setdefault(CONTEXT_KEY, MetricCache.from_config(ctx.config))
    return cache


class MetricReader:
    """Metric calls of one request: the data version is read once, a connection opened only on a miss."""

    def __init__(self, ctx, cache: MetricCache | None = None):
        self.ctx = ctx
        self.cache = cache or get_metric_cache(ctx)
        self._conn = None
        self._data_version: str | None = None
        self._share_profiles = False
        self._sharing: contextlib.ExitStack | None = None

    def connection(self):
        """Return this request's open database connection (opened on first use)."""
        if self._conn is None:
            self._conn = self.ctx.engine.connect()
        if self._share_profiles and self._sharing is None:
            self._sharing = contextlib.ExitStack()
            self._sharing.enter_context(metrics.shared_profiles(self._conn))
        return self._conn

    @contextlib.contextmanager
    def shared_profiles(self):
        """Within the block, the metrics this reader computes build the profiles once per observation date
        (`metrics.shared_profiles` on the request's connection) instead of once per metric. For callbacks that
        compute many profile-based metrics (the Overview's KPI card: up to 15); nothing happens when every
        result comes from the cache (no connection is opened)."""
        self._share_profiles = True
        try:
            yield self
        finally:
            self._share_profiles = False
            self._end_sharing()

    def _end_sharing(self) -> None:
        if self._sharing is not None:
            sharing, self._sharing = self._sharing, None
            sharing.close()  # drops the temporary profile tables

    @property
    def data_version(self) -> str:
        """Return the database's data version, read once per request (DuckDB: only when the file changed)."""
        if self._data_version is None:
            path = duckdb_file(self.ctx.engine)
            if path is None:
                self._data_version = db.get_data_version(self.connection())
            else:
                fingerprint = file_fingerprint(path)  # taken before reading: a later write changes it
                known = _DUCKDB_VERSIONS.get(str(path))
                if known is not None and known[0] == fingerprint:
                    self._data_version = known[1]
                else:
                    self._data_version = db.get_data_version(self.connection())
                    _DUCKDB_VERSIONS[str(path)] = (fingerprint, self._data_version)
        return self._data_version

    def cached(self, namespace: str, payload: Any, compute: Callable[[], Any]) -> Any:
        """Return compute() memoized under (namespace, payload, data version, metrics code version); None results
        are not stored."""
        key = memo_key(namespace, payload, self.data_version)
        value = self.cache.get(key)
        if value is not None:
            self.cache.hits += 1
            return value
        self.cache.misses += 1
        value = compute()
        if value is not None:
            self.cache.set(key, value)
        return value

    def __call__(self, fn: Callable, filters: Any = None, **params) -> Any:
        """Return the (cached) result of metric `fn` for `filters` and keyword `params`."""
        return self.cache.call(fn, self.connection, filters, self.data_version, **params)

    def close(self) -> None:
        """Close the connection if one was opened."""
        self._end_sharing()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "MetricReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def metric_reader(ctx) -> MetricReader:
    """Return a MetricReader for one request on `ctx` (use it as a context manager)."""
    return MetricReader(ctx)
