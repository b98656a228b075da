"""`metrics.users_by_attributes` (the filter bar's option counts) against a pandas reference on every backend: the users
to date (first visit on or before min(end, O)) of each region, device and channel combination, attribute filters
ignored, with edge-case data (ties on the first visit, 20-digit ids, non-ASCII names, events after O)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import metrics
from tests.conftest import BACKENDS
from tests.metrics import metric_data
from tests.metrics import reference as ref
from tests.metrics.metric_data import load_data_database

DATA = metric_data.edge_case_data(11)
CASES = {  # end, observation date
    "whole": (None, None),
    "mid": ("2026-04-15", None),
    "as_of": ("2026-05-20", "2026-04-01"),  # O before the end: users to O
    "first_day": ("2026-03-04", None),
}


@pytest.fixture(scope="module", params=[(b, m) for b in BACKENDS for m in ("stored", "live")],
                ids=[f"{b}-{m}" for b in BACKENDS for m in ("stored", "live")])
def loaded(request, tmp_path_factory):
    """A read-only connection to a database holding DATA per backend, derived tables stored or not."""
    backend, mode = request.param
    engine, cleanup = load_data_database(DATA, backend, mode, tmp_path_factory.mktemp(f"uba_{backend}_{mode}"))
    with engine.connect() as conn:
        yield conn
    engine.dispose()
    cleanup()


def reference_counts(end, observation_date) -> pd.DataFrame:
    """The users to date of each (region, device, channel), from the reference's profiles (no start: the data's)."""
    profiles = ref.profiles(DATA, ref.Filters.make(end=end, observation_date=observation_date))
    counts = profiles.groupby(["region", "device", "channel"]).size().rename("users").reset_index()
    return counts.sort_values(["region", "device", "channel"], kind="mergesort").reset_index(drop=True)


@pytest.mark.parametrize("case", list(CASES))
def test_uba001_users_by_attributes_match_the_reference(loaded, case):
    end, obs = CASES[case]
    # the query's attribute filters are ignored: the filter bar narrows each list by the other two itself
    query = metrics.MetricQuery.make(start="2026-04-01" if end is None else None, end=end, observation_date=obs,
                                     regions=["France"], channels=["TipTop"])
    got = metrics.users_by_attributes(loaded, query)
    got = got.sort_values(["region", "device", "channel"], kind="mergesort").reset_index(drop=True)
    want = reference_counts(end, obs)
    assert len(want) >= 10 and int(want["users"].sum()) >= 10
    pd.testing.assert_frame_equal(got[["region", "device", "channel"]].astype(str),
                                  want[["region", "device", "channel"]].astype(str))
    assert got["users"].astype(int).tolist() == want["users"].astype(int).tolist()


def test_uba002_no_user_before_the_data_gives_an_empty_frame(loaded):
    got = metrics.users_by_attributes(loaded, metrics.MetricQuery.make(end="2026-03-04",
                                                                       observation_date="2026-03-04"))
    first_day = reference_counts("2026-03-04", "2026-03-04")
    assert int(got["users"].sum()) == int(first_day["users"].sum()) > 0
    assert list(got.columns) == ["region", "device", "channel", "users"]
