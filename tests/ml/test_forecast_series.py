"""Time-series forecasts (ml/forecast_series.py, forecast_models.py, forecast_backtest.py) and the `forecast`
command (ml/forecast_commands.py): no leakage past the origin, determinism, the CSV files, the CLI's errors, and the
planted demo figures (the chosen model against ETS and the seasonal naive, interval coverage, TipTop's rising
CAC)."""

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
from ml.forecast_models import (AUTO, ETS, MODELS, SEASONAL_NAIVE, VALIDATION_ORIGINS, RegressionForm,
                                 auto_and_ets_forecasts, forecast, mase, mase_scale, regression_forecast,
                                 validation_errors, validation_plan)
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


WEEK_PATTERN = np.array([0.0, 8, 12, 5, -4, -10, -11])


def _daily(values) -> pd.Series:
    """Return `values` as a daily series from 2026-05-01."""
    return pd.Series(np.asarray(values, dtype=float), index=pd.date_range("2026-05-01", periods=len(values), freq="D"))


def _next_days(history: pd.Series, days: int) -> pd.DatetimeIndex:
    """Return the `days` dates after the last of `history`."""
    return pd.date_range(history.index[-1] + pd.Timedelta(days=1), periods=days, freq="D")


def test_fc011_the_trend_regression_by_hand():
    """An exact line plus a weekday pattern is continued exactly (no residual: no width); on the log scale an exact
    exponential; a validated error larger than the interval's own scales it up to that RMSE (the 80% half-width's
    root mean square is t(0.9, dof) x RMSE), a smaller one leaves it."""
    t = np.arange(70)
    line = _daily(100 + 2.0 * t + WEEK_PATTERN[t % 7])
    index = _next_days(line, 10)
    future = 100 + 2.0 * np.arange(70, 80) + WEEK_PATTERN[np.arange(70, 80) % 7]
    exact = regression_forecast(line, index, 7, RegressionForm("linear", None))
    assert exact.mean == pytest.approx(future, rel=1e-9)
    assert exact.hi95 - exact.lo95 == pytest.approx(np.zeros(10), abs=1e-6)
    last_weeks = regression_forecast(line, index, 7, RegressionForm("linear", 28))
    assert last_weeks.mean == pytest.approx(future, rel=1e-9) and last_weeks.form == "TrendReg(last 28)"
    growth = _daily(np.expm1(3.0 + 0.01 * t))
    logged = regression_forecast(growth, index, 1, RegressionForm("log", None))
    assert logged.mean == pytest.approx(np.expm1(3.0 + 0.01 * np.arange(70, 80)), rel=1e-9)
    assert logged.form == "log TrendReg(all)"
    errors = np.array([3.0, -3.0] * 14)
    widened = regression_forecast(line, index, 7, RegressionForm("linear", None), validated=(errors, np.zeros(28)))
    from scipy.stats import t as student_t
    half = widened.hi80 - widened.mean
    assert np.sqrt(np.mean(half ** 2)) == pytest.approx(student_t.ppf(0.9, 70 - 8) * 3.0, rel=1e-9)
    # with residuals, the validated error scales the standard deviation up (its growth with the horizon kept) so that
    # its root mean square over the horizon is the validated RMSE
    noisy = _daily(line.to_numpy() + np.random.default_rng(1).normal(0, 2.0, 70))
    plain = regression_forecast(noisy, index, 7, RegressionForm("linear", None))
    scaled = regression_forecast(noisy, index, 7, RegressionForm("linear", None), validated=(errors * 10, np.zeros(28)))
    sd = (plain.hi80 - plain.mean) / student_t.ppf(0.9, 62)
    assert np.all(np.diff(sd) >= 0) and sd[-1] > sd[0] and scaled.mean == pytest.approx(plain.mean, rel=1e-12)
    assert (scaled.hi80 - scaled.mean) == pytest.approx((plain.hi80 - plain.mean) * 30.0 / np.sqrt(np.mean(sd ** 2)))
    small = regression_forecast(noisy, index, 7, RegressionForm("linear", None), validated=(errors / 100, np.zeros(28)))
    assert small.hi95 == pytest.approx(plain.hi95, rel=1e-12)  # a smaller validated error leaves the interval as is
    assert regression_forecast(_daily([1.0, 2, 3]), index, 7, RegressionForm()) is None  # too few observations
    assert regression_forecast(_daily(-t - 1.0), index, 1, RegressionForm("log")) is None  # log of negatives


def test_fc012_the_validation_refits_on_earlier_history_only():
    """validation_errors cuts the history at VALIDATION_ORIGINS origins `step` apart, the latest `steps` before
    the end, gives each fit only the values before its cut and returns the values after it with the predictions."""
    values = _daily(np.arange(100.0))
    seen = []

    def last_value(history, index):
        seen.append((len(history), float(history.iloc[-1]), list(index)))
        return regression_forecast(history, index, 1, RegressionForm("linear", None))

    actual, predicted = validation_errors(values, 5, 14, 20, last_value)
    assert [s[0] for s in seen] == [95 - 14 * k for k in range(VALIDATION_ORIGINS)]
    assert all(s[1] == s[0] - 1 for s in seen) and seen[0][2] == [95, 96, 97, 98, 99]
    assert actual.tolist() == [v for k in range(VALIDATION_ORIGINS) for v in range(95 - 14 * k, 100 - 14 * k)]
    assert predicted == pytest.approx(actual)  # a line continued by a line
    assert [len(a) for a in validation_errors(values, 5, 14, 96, last_value)] == [0, 0]  # no origin leaves 96 values
    assert validation_errors(values, 5, 14, 20, lambda h, i: None) is None
    assert len(validation_errors(values, 5, 7, 20, last_value, origins=8)[0]) == 8 * 5
    # the plan: 2 origins 14 days apart at 28 days ahead; at 7 days 8 origins a week apart (56 scored days); weekly
    # series count in weeks
    assert validation_plan(28, 7) == (2, 14) and validation_plan(7, 7) == (8, 7) and validation_plan(14, 7) == (4, 14)
    assert validation_plan(4, 1) == (2, 2) and validation_plan(1, 1) == (8, 1)


def test_fc013_auto_takes_the_regression_on_a_noisy_trend_and_ets_on_a_random_walk():
    """On a line with a weekday pattern and noise the trend regression wins the validation and AUTO's forecast is
    the regression's on all the history (its interval widened to the validation error); on a random walk AUTO keeps
    the AICc-best ETS form. Both are deterministic."""
    rng = np.random.default_rng(3)
    t = np.arange(150)
    trend = _daily(200 + 0.8 * t + WEEK_PATTERN[t % 7] + rng.normal(0, 6, 150))
    index = _next_days(trend, 28)
    auto, ets = auto_and_ets_forecasts(trend, index, 7)
    assert auto.model == AUTO and auto.form.startswith("TrendReg") and ets.form.startswith("ETS")
    form = RegressionForm("linear", None) if auto.form == "TrendReg(all)" else RegressionForm("linear", 84)
    plain = regression_forecast(trend, index, 7, form)
    assert auto.mean == pytest.approx(plain.mean, rel=1e-12)
    assert np.all(auto.hi80 - auto.mean >= plain.hi80 - plain.mean - 1e-9)
    truth = 200 + 0.8 * np.arange(150, 178) + WEEK_PATTERN[np.arange(150, 178) % 7]
    assert np.mean(np.abs(auto.mean - truth)) < np.mean(np.abs(ets.mean - truth))
    walk = _daily(500 + np.cumsum(rng.normal(0, 15, 150)))
    auto_walk, ets_walk = auto_and_ets_forecasts(walk, index, 7)
    assert auto_walk.form == ets_walk.form and auto_walk.mean == pytest.approx(ets_walk.mean, rel=1e-12)
    again = auto_and_ets_forecasts(trend, index, 7)[0]
    assert np.array_equal(again.mean, auto.mean) and np.array_equal(again.lo95, auto.lo95)


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
    assert set(backtest_csv["model"]) == set(MODELS) == {AUTO, ETS, SEASONAL_NAIVE}
    series = forecast_csv[["metric", "channel"]].drop_duplicates()
    assert len(backtest_csv) == len(MODELS) * len(series)
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


def test_fc008_on_the_default_demo_auto_beats_ets_and_the_seasonal_naive_and_its_80pc_intervals_cover_70_to_90pc(
        default_demo_run, capsys):
    """The issue's targets on the default demo at 28 days: MASE < 1 on new users in total; spend in total stays
    above 1 (docs/forecast.md says why) but well below the seasonal naive; AUTO beats the AICc-chosen ETS pooled
    over the daily series; its 80% intervals cover 70-90% of all the backtest values."""
    _, run = default_demo_run
    totals = pooled_summary(run.detail, TOTAL).set_index(["metric", "model"])
    every = pooled_summary(run.detail).set_index(["metric", "model"])
    with capsys.disabled():
        print("\n" + totals["mase"].unstack().round(3).to_string())
    for metric in ("spend", "new_users"):
        assert totals.loc[(metric, AUTO), "mase"] < totals.loc[(metric, SEASONAL_NAIVE), "mase"], metric
    assert totals.loc[("new_users", AUTO), "mase"] < 1.0
    assert totals.loc[("spend", AUTO), "mase"] < 0.8 * totals.loc[("spend", SEASONAL_NAIVE), "mase"]
    daily = run.detail[run.detail["metric"] != "cac"]
    assert daily.loc[daily["model"] == AUTO, "mase"].mean() < daily.loc[daily["model"] == ETS, "mase"].mean()
    for metric in ("new_users", "revenue"):
        assert every.loc[(metric, AUTO), "mase"] < every.loc[(metric, ETS), "mase"], metric
    auto = run.detail[run.detail["model"] == AUTO]
    coverage80 = auto["hits80"].sum() / auto["days"].sum()
    coverage95 = auto["hits95"].sum() / auto["days"].sum()
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
