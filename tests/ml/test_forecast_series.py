"""Time-series forecasts (ml/forecast_series.py, forecast_models.py, forecast_backtest.py) and the `forecast`
command (ml/forecast_commands.py): no leakage past the origin, determinism, the CSV files, the CLI's errors, and the
planted demo figures (ETS against the seasonal naive, interval coverage, TipTop's rising CAC)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard import cli, db
from dashboard.demo.generation import generate
from dashboard.demo.loading import load_frames
from ml.forecast_backtest import (BACKTEST_COLUMNS, FORECAST_COLUMNS, backtest_origins, nested_intervals,
                                  pooled_summary, run_forecasts)
from ml.forecast_models import ETS, SEASONAL_NAIVE, forecast, mase, mase_scale
from ml.forecast_series import METRICS, TOTAL, read_series, truncate

ORIGIN = dt.date(2026, 9, 30)
SMALL_USERS, SMALL_SEED = 3000, 5


def _load(path: Path, frames: dict[str, pd.DataFrame]) -> str:
    """Load `frames` into a new DuckDB file at `path`; return its URL."""
    url = f"duckdb:///{path}"
    engine = db.make_engine(url)
    load_frames(engine, frames)
    engine.dispose()
    return url


def _changed_after(frames: dict[str, pd.DataFrame], origin: dt.date) -> dict[str, pd.DataFrame]:
    """Return the frames with every event after `origin` changed: later visits moved to TipTop and halved, later
    orders at ten times their revenue, later costs tripled plus a new channel's costs, and new users after it."""
    after = pd.Timestamp(origin) + pd.Timedelta(days=1)
    visits, orders, costs = (frames[name].copy() for name in ("visits", "orders", "costs"))
    late = visits["session_start"] >= after
    visits.loc[late, "channel"] = "TipTop"
    visits = pd.concat([visits[~late], visits[late].iloc[::2]], ignore_index=True)
    extra = visits[visits["session_start"] >= after].head(50).copy()
    extra["user_id"] = [10**11 + i for i in range(len(extra))]
    visits = pd.concat([visits, extra], ignore_index=True).sort_values("session_start", kind="stable")
    orders.loc[orders["event_dt"] >= after, "revenue"] *= 10
    late_costs = pd.to_datetime(costs["dt"]) >= after
    costs.loc[late_costs, "costs"] *= 3
    new_channel = costs[late_costs].head(5).copy()
    new_channel["channel"] = "BrandNewAds"
    costs = pd.concat([costs, new_channel], ignore_index=True)
    return {"visits": visits.reset_index(drop=True), "orders": orders, "costs": costs}


@pytest.fixture(scope="module")
def twin_demos(tmp_path_factory):
    """(URL of the small demo, URL of the same demo with every event after ORIGIN changed)."""
    folder = tmp_path_factory.mktemp("forecast_twins")
    frames = generate(users=SMALL_USERS, seed=SMALL_SEED)
    return _load(folder / "original.duckdb", frames), _load(folder / "changed.duckdb", _changed_after(frames, ORIGIN))


def _read(url: str, origin: dt.date | None) -> tuple[dt.date, list]:
    """Return read_series of the database at `url` (read only)."""
    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return read_series(conn, origin)
    finally:
        engine.dispose()


def _subset(series: list, channels=(TOTAL, "TipTop")) -> list:
    """Return the series of `channels` only (a fast forecast run)."""
    return [item for item in series if item.channel in channels]


def test_fc001_series_and_forecasts_ignore_every_event_after_the_origin(twin_demos):
    original_url, changed_url = twin_demos
    origin, original = _read(original_url, ORIGIN)
    _, changed = _read(changed_url, ORIGIN)
    assert origin == ORIGIN
    assert [s.key for s in original] == [s.key for s in changed]
    assert {s.metric for s in original} == set(METRICS)
    for a, b in zip(original, changed):
        assert a.values.index[-1] <= pd.Timestamp(ORIGIN)
        pd.testing.assert_series_equal(a.values, b.values, check_exact=True, obj=str(a.key))
    first = dt.date(2026, 5, 1)
    run_a = run_forecasts(_subset(original), first, ORIGIN, 14)
    run_b = run_forecasts(_subset(changed), first, ORIGIN, 14)
    pd.testing.assert_frame_equal(run_a.forecast, run_b.forecast, check_exact=True)
    pd.testing.assert_frame_equal(run_a.backtest, run_b.backtest, check_exact=True)
    # the change is real: read to the data's last date, the two databases differ
    _, late_a = _read(original_url, None)
    _, late_b = _read(changed_url, None)
    totals = {s.key: s.values.sum() for s in late_a}, {s.key: s.values.sum() for s in late_b}
    assert totals[0][("revenue", TOTAL)] < totals[1][("revenue", TOTAL)]
    assert ("spend", "BrandNewAds") in totals[1] and ("spend", "BrandNewAds") not in totals[0]


def test_fc002_the_backtest_sees_what_an_earlier_origin_would_read(twin_demos):
    url, _ = twin_demos
    _, series = _read(url, ORIGIN)
    earlier = ORIGIN - dt.timedelta(days=30)
    _, at_earlier = _read(url, earlier)
    by_key = {s.key: s for s in series}
    for item in at_earlier:
        pd.testing.assert_series_equal(truncate(by_key[item.key], earlier), item.values, check_exact=True,
                                       check_freq=False, obj=str(item.key))


def test_fc003_forecasts_are_deterministic_and_their_intervals_nested(twin_demos):
    url, _ = twin_demos
    _, series = _read(url, ORIGIN)
    first = dt.date(2026, 5, 1)
    one = run_forecasts(_subset(series), first, ORIGIN, 21)
    two = run_forecasts(_subset(series), first, ORIGIN, 21)
    pd.testing.assert_frame_equal(one.forecast, two.forecast, check_exact=True)
    pd.testing.assert_frame_equal(one.detail, two.detail, check_exact=True)
    assert nested_intervals(one.forecast)
    assert (one.forecast[["mean", "lo80", "hi80", "lo95", "hi95"]] >= 0).all().all()
    daily = one.forecast[one.forecast["metric"] != "cac"]
    assert daily.groupby(["metric", "channel"]).size().eq(21).all()
    assert daily["date"].min() == pd.Timestamp(ORIGIN + dt.timedelta(days=1))
    # intervals widen with the horizon: the 95% band of the last day is wider than the first's
    spend = daily[(daily["metric"] == "spend") & (daily["channel"] == TOTAL)]
    width = (spend["hi95"] - spend["lo95"]).to_numpy()
    assert width[-1] > width[0] > 0


def test_fc004_mase_and_the_seasonal_naive_by_hand():
    history = pd.Series([10.0, 12, 14, 10, 12, 14, 10, 12, 14])
    index = pd.date_range("2026-01-10", periods=4, freq="D")
    naive = forecast(SEASONAL_NAIVE, history, index, 3)
    assert naive.mean.tolist() == [10.0, 12.0, 14.0, 10.0]
    assert naive.lo80.tolist() == naive.mean.tolist()  # a perfect seasonal history: no residual, no width
    assert mase_scale(pd.Series([1.0, 2, 4, 7]), 1) == pytest.approx(2.0)  # mean |diff| = (1 + 2 + 3) / 3
    assert mase(np.array([3.0, 5]), np.array([1.0, 5]), 2.0) == pytest.approx(0.5)
    assert backtest_origins(dt.date(2026, 5, 1), dt.date(2026, 10, 31), 28) == [
        dt.date(2026, 8, 22), dt.date(2026, 9, 5), dt.date(2026, 9, 19), dt.date(2026, 10, 3)]


@pytest.fixture(scope="module")
def exported(twin_demos, tmp_path_factory):
    """(output folder, captured stdout, stderr, exit code) of `forecast export --horizon-days 14` on the small demo
    with no CAC model saved."""
    url, _ = twin_demos
    out = tmp_path_factory.mktemp("forecast_export") / "out"
    models = tmp_path_factory.mktemp("no_models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.setenv("MODEL_DIR", str(models))
        import contextlib
        import io

        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(["forecast", "export", "--out", str(out), "--horizon-days", "14"])
    return out, stdout.getvalue(), stderr.getvalue(), code


def test_fc005_export_writes_forecast_and_backtest_csv_with_their_columns_and_types(exported):
    out, stdout, stderr, code = exported
    assert code == 0
    forecast_csv = pd.read_csv(out / "forecast.csv")
    assert list(forecast_csv.columns) == FORECAST_COLUMNS
    assert set(forecast_csv["metric"]) == set(METRICS)
    assert forecast_csv[["mean", "lo80", "hi80", "lo95", "hi95"]].dtypes.eq("float64").all()
    assert forecast_csv["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    dates = pd.to_datetime(forecast_csv["date"])
    daily = forecast_csv["metric"] != "cac"
    assert dates[daily].min() == pd.Timestamp("2026-10-31") + pd.Timedelta(days=1)
    assert dates[daily].max() == pd.Timestamp("2026-10-31") + pd.Timedelta(days=14)
    assert forecast_csv[daily].groupby(["metric", "channel"]).size().eq(14).all()
    assert (dates[~daily].dt.day_of_week == 0).all() and not forecast_csv[~daily].empty
    assert TOTAL in set(forecast_csv.loc[forecast_csv["metric"] == "spend", "channel"])
    assert "organic" not in set(forecast_csv.loc[forecast_csv["metric"].isin(["spend", "cac"]), "channel"])
    assert nested_intervals(forecast_csv)
    backtest_csv = pd.read_csv(out / "backtest.csv")
    assert list(backtest_csv.columns) == BACKTEST_COLUMNS
    assert set(backtest_csv["model"]) == {ETS, SEASONAL_NAIVE}
    series = forecast_csv[["metric", "channel"]].drop_duplicates()
    assert len(backtest_csv) == 2 * len(series)
    assert backtest_csv[["mase", "coverage80", "coverage95"]].dtypes.eq("float64").all()
    assert backtest_csv["coverage80"].between(0, 1).all() and (backtest_csv["coverage95"] >= backtest_csv["coverage80"]).all()
    assert not (out / "cac_models.csv").exists()
    assert "python -m dashboard forecast train" in stderr
    assert "backtest at 4 origins" in stdout


@pytest.mark.parametrize("args, message", [
    (["--origin", "2026-02-30"], "--origin: not a date"),
    (["--origin", "2027-01-01"], "after the data's last date"),
    (["--origin", "2026-05-10"], "fewer than 28 days of history"),
    (["--horizon-days", "6"], "--horizon-days must be between 7 and 90"),
    (["--horizon-days", "91"], "--horizon-days must be between 7 and 90"),
    (["--horizon-days", "two"], "--horizon-days: not a whole number"),
    (["--horizon-days", "90", "--origin", "2026-09-01"], "the backtest needs 4 origins"),
])
def test_fc006_export_refuses_bad_input_with_one_line(args, message, twin_demos, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", twin_demos[0])
    code = cli.main(["forecast", "export", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_fc007_export_and_train_refuse_an_unwritable_folder_and_a_bad_origin(twin_demos, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", twin_demos[0])
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main(["forecast", "export", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "cannot write there" in err and err.count("\n") == 1
    assert cli.main(["forecast", "train", "--origin", "31.10.2026"]) == 2
    assert "--origin: not a date" in capsys.readouterr().err


def test_fc010_train_saves_a_cac_model_whose_comparison_export_writes(twin_demos, tmp_path, monkeypatch, capsys):
    from ml.forecast_commands import CAC_MODEL_COLUMNS, cac_model_table, write_table

    models = tmp_path / "models"
    monkeypatch.setenv("DATABASE_URL", twin_demos[0])
    monkeypatch.setenv("MODEL_DIR", str(models))
    assert cli.main(["forecast", "train", "--origin", "2026-10-24", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    assert "CAC model search" in captured.err  # the progress bar
    assert "trained on data up to 2026-10-24" in captured.out and "<- chosen" in captured.out
    table = cac_model_table(models)
    assert list(table.columns) == CAC_MODEL_COLUMNS
    assert {"ridge", "knn", "svr", "random_forest", "hist_gradient_boosting"} <= set(table["family"])
    assert table["chosen"].sum() == 1
    written = pd.read_csv(write_table(table, tmp_path / "cac_models.csv"))
    assert list(written.columns) == CAC_MODEL_COLUMNS and len(written) == len(table)
    assert cac_model_table(tmp_path / "empty") is None


@pytest.fixture(scope="module")
def default_demo_run(tmp_path_factory):
    """(series, ForecastRun) of every series of the default demo (150,000 users, seed 42) at its last date, 28 days."""
    from dashboard.demo import write_demo

    url = f"duckdb:///{tmp_path_factory.mktemp('forecast_default_demo') / 'demo.duckdb'}"
    engine = db.make_engine(url)
    write_demo(engine, users=150_000, seed=42)
    engine.dispose()
    origin, series = _read(url, None)
    return series, run_forecasts(series, dt.date(2026, 5, 1), origin, 28)


def test_fc008_on_the_default_demo_ets_beats_the_seasonal_naive_and_the_80pc_intervals_cover_70_to_90pc(default_demo_run):
    _, run = default_demo_run
    totals = pooled_summary(run.detail, TOTAL).set_index(["metric", "model"])
    for metric in ("spend", "new_users"):
        assert totals.loc[(metric, ETS), "mase"] < totals.loc[(metric, SEASONAL_NAIVE), "mase"], metric
    ets = run.detail[run.detail["model"] == ETS]
    coverage80 = ets["hits80"].sum() / ets["days"].sum()
    coverage95 = ets["hits95"].sum() / ets["days"].sum()
    assert 0.70 <= coverage80 <= 0.90, coverage80
    assert coverage80 < coverage95 <= 1.0


def test_fc009_tiptops_weekly_cac_forecast_keeps_rising(default_demo_run):
    series, run = default_demo_run
    observed = next(s for s in series if s.key == ("cac", "TipTop")).values
    cac = run.forecast[(run.forecast["metric"] == "cac") & (run.forecast["channel"] == "TipTop")]
    assert len(cac) >= 4 and (cac["date"].dt.day_of_week == 0).all()
    assert np.all(np.diff(cac["mean"].to_numpy()) > 0)
    assert cac["mean"].iloc[-1] > observed.iloc[-4:].mean() > observed.iloc[:4].mean() * 2
    faceboom = run.forecast[(run.forecast["metric"] == "cac") & (run.forecast["channel"] == "FaceBoom")]["mean"]
    assert abs(faceboom.iloc[-1] / faceboom.iloc[0] - 1) < 0.05  # FaceBoom's flat CAC stays flat
