"""Demo data generation: a realistic, seeded app/shop data set with planted stories, as pandas frames.

`generate()` builds the three event tables (visits, orders, costs) as pandas frames with vectorised
numpy (no Python loop over users or visits). The shape and the planted stories are documented, with measured
numbers, in `docs/demo_data.md`.

Model in one paragraph: users arrive every day (weekly seasonality, mild growth); their first visit
fixes region, device and acquisition channel. Each user has an engagement level (log-normal); return
visits follow two decaying components (a short burst after install and a slow tail), so a user's
visit rate falls with days since the first visit. A minority of users are payers (rate by channel,
region and device); they buy on some of their visits, mostly early, at a few price points. Daily ad
spend per paid channel is the channel's new users that day times its cost per user times noise.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from datetime import date, timedelta

import numpy as np
import pandas as pd
from tqdm import tqdm

from dashboard.errors import BadInput

DEFAULT_USERS = 150_000
DEFAULT_DAYS = 184
DEFAULT_SEED = 42
DEFAULT_END_DATE = date(2026, 10, 31)

DAY = 86_400  # seconds

REGIONS = ("United States", "UK", "France", "Germany")
DEVICES = ("iPhone", "Mac", "Android", "PC")
CHANNELS = (
    "FaceBoom", "TipTop", "RocketSuperAds", "MediaTornado", "YRabbit",  # United States
    "AdNonSense", "LeapBob", "OppleCreativeMedia", "WahooNetBanner", "lambdaMediaAds",  # Europe
    "organic",
)
PAID_CHANNELS = CHANNELS[:-1]
ORGANIC = CHANNELS.index("organic")
US_CHANNELS = (0, 1, 2, 3, 4, ORGANIC)
EU_CHANNELS = (5, 6, 7, 8, 9, ORGANIC)

REGION_SHARES = np.array([0.667, 0.111, 0.111, 0.111])
# Channel mix of new users, at the start and at the end of the period (linear in between):
# the United States shift budget into TipTop over time.
US_MIX_START = np.array([0.30, 0.14, 0.08, 0.06, 0.06, 0.36])
US_MIX_END = np.array([0.27, 0.25, 0.05, 0.06, 0.06, 0.31])
EU_MIX = np.array([0.13, 0.13, 0.13, 0.12, 0.10, 0.39])
# Device mix per region (rows: REGIONS, columns: DEVICES).
DEVICE_MIX = np.array([
    [0.45, 0.20, 0.23, 0.12],
    [0.22, 0.12, 0.28, 0.38],
    [0.20, 0.12, 0.30, 0.38],
    [0.20, 0.12, 0.30, 0.38],
])

# Per channel (order of CHANNELS): cost per new user at the start and at the end of the period,
# probability that a new user becomes a payer, and the retention shape (short-burst size, its
# decay time in days, slow-tail size; 1.0 = the app's normal).
CPU_START = np.array([1.20, 1.00, 0.60, 0.25, 0.25, 0.90, 0.20, 0.25, 0.55, 0.65, 0.0])
CPU_END = np.array([1.20, 3.50, 0.30, 0.25, 0.25, 0.90, 0.20, 0.25, 0.55, 0.65, 0.0])
PAYER_RATE = np.array([0.075, 0.040, 0.075, 0.055, 0.055, 0.110, 0.045, 0.045, 0.055, 0.100, 0.040])
SHORT_FACTOR = np.array([0.70, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
SHORT_DAYS = np.array([2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
TAIL_FACTOR = np.array([0.20, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
REPEAT_FACTOR = np.array([0.35, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # FaceBoom payers rarely buy again
PAYER_REGION_FACTOR = np.array([1.0, 1.0, 1.0, 1.0])
PAYER_DEVICE_FACTOR = np.array([1.1, 1.1, 0.95, 0.85])

SHORT_RATE = 0.55  # expected return visits per day right after the first visit (normal user)
TAIL_RATE = 0.18  # slow component's visits per day at the start
TAIL_DAYS = 60.0  # its decay time
HABIT_RATE = 0.25  # payers' steady visits per day (times engagement) on top of the two fading components:
# regular customers keep a habit (about 10 visits a month at median engagement) instead of drifting away
ENGAGEMENT_SIGMA = 1.0
PAYER_ENGAGEMENT = 2.2
MAC_PAYER_RETENTION = 0.30  # Mac payers come back this much as often as other payers
SAME_DAY_GAP_MEAN = 3 * 3600

SESSION_MEDIAN_SECONDS = 14 * 60
SESSION_SIGMA = 0.9
SESSION_MAX_SECONDS = 12 * 3600
OTHER_DEVICE_SHARE = 0.03  # return visits from another device
ORGANIC_RETURN_SHARE = 0.05  # return visits that come in through `organic`

PRICES = np.array([4.99, 5.99, 9.99, 19.99, 49.99])
PRICE_SHARES = np.array([0.55, 0.17, 0.15, 0.09, 0.04])
FIRST_ORDER_AT_FIRST_VISIT = 0.55
LATER_FIRST_ORDER_P = 0.35  # geometric over the following visits
REPEAT_BETA = (1.2, 24.0)  # per-payer probability to buy on a later visit (mean 0.048: about one order in
# 20 visits, so the habit's extra visits keep the channels' ROI stories of the course data)

COST_NOISE_SIGMA = 0.12
SPLIT_COST_ROW_SHARE = 0.03  # (dt, channel) pairs booked as two rows
OUTAGE_CHANNEL = CHANNELS.index("YRabbit")
OUTAGE_START_SHARE = 0.62  # YRabbit tracking outage starts at this share of the period...
OUTAGE_DAYS = 6  # ...and lasts this many days: its users land as organic, its spend goes on

DECLINER_SHARE = 0.17  # of the active payers
DECLINE_WINDOW_DAYS = 120  # decline start D lies in the last 120 .. 14 days of the period
DECLINE_WEEKS = (7, 21)  # days over which visits fall from DECLINE_STEP to the floor
PURCHASE_STOP_DAYS = (14, 28)  # purchases stop this many days after D
DECLINE_VISIT_FLOOR = 0.05
DECLINER_MIN_VISITS = 8  # visits in the 30 days before D that make a payer eligible: decliners are
# frequent customers, whose drop stands out against the ups and downs of a few visits a month
DECLINE_SESSION_FLOOR = 0.35
DECLINE_STEP = 0.5  # from D on only half the visits happen, then fewer down to the floor: the early
# warning a model can see while the customer still buys

HOUR_WEIGHTS = np.array([
    2.5, 1.5, 1.0, 0.8, 0.8, 1.2, 2.5, 3.5, 4.5, 5.0, 5.0, 5.0,
    5.5, 5.0, 5.0, 5.0, 5.0, 5.5, 6.0, 6.5, 7.0, 7.0, 6.0, 4.5,
])
WEEKDAY_WEIGHTS = np.array([1.0, 0.98, 0.97, 1.0, 1.05, 1.15, 1.12])  # Monday .. Sunday
GROWTH = 0.6  # new users per day grow by this share over the period


def _draw(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Return one category index per row of `cumulative` (rows of cumulative probabilities)."""
    u = rng.random(cumulative.shape[0])
    return (u[:, None] >= cumulative[:, :-1]).sum(axis=1).astype(np.int8)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return n seconds-of-day following the app's daily rhythm."""
    p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
    hour = rng.choice(24, size=n, p=p)
    return hour * 3600 + rng.integers(0, 3600, size=n)


def _session_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return n log-normal session lengths in seconds."""
    seconds = rng.lognormal(np.log(SESSION_MEDIAN_SECONDS), SESSION_SIGMA, size=n)
    return np.clip(np.rint(seconds), 5, SESSION_MAX_SECONDS).astype(np.int64)


def _user_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return n unique digit-string ids: random 12-digit ones and a few 20-digit ones beyond 2**64."""
    draws = rng.integers(10**11, 10**12, size=n + n // 50 + 16)
    _, first = np.unique(draws, return_index=True)
    ids = draws[np.sort(first)][:n].astype(str).astype("<U20")
    wide = min(n, max(3, n // 2000))
    if wide:
        at = rng.choice(n, size=wide, replace=False)
        high = rng.integers(0, 10**9, size=wide)
        low = rng.integers(0, 10**10, size=wide)
        # '9' + 19 digits: 20 digits, > 2**64 (1.8e19); unique because (high, low) pairs are
        # drawn again for the rare duplicate.
        for _ in range(10):
            wide_ids = np.char.add(np.char.add("9", np.char.zfill(high.astype(str), 9)),
                                   np.char.zfill(low.astype(str), 10))
            _, counts = np.unique(wide_ids, return_counts=True)
            if (counts == 1).all():
                break
            low = rng.integers(0, 10**10, size=wide)
        ids[at] = wide_ids
    return ids


def _truncated_exponential(rng: np.random.Generator, scale: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Return draws of an exponential with mean `scale`, truncated to [0, limit)."""
    u = rng.random(scale.shape[0])
    return -scale * np.log1p(-u * -np.expm1(-limit / scale))


def _categorical(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    """Return a categorical over `categories` from integer codes."""
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=pd.Index(categories, dtype="str"))


def _timestamps(start: date, seconds: np.ndarray) -> np.ndarray:
    """Return datetime64[us] values `seconds` after midnight of `start`."""
    return np.datetime64(start, "us") + seconds.astype("timedelta64[s]").astype("timedelta64[us]")


def _period_share_of_days(days: int) -> np.ndarray:
    """Return, for each day of the period, its position as a share 0..1 of the period."""
    return np.arange(days) / max(days - 1, 1)


@dataclass
class _Users:
    """One entry per user, in order of the first visit."""

    first_day: np.ndarray  # day index of the first visit (0 = first day of the period)
    first_start: np.ndarray  # seconds from the period start to the first visit
    region: np.ndarray
    device: np.ndarray
    channel_true: np.ndarray  # the channel that acquired (and is billed for) the user
    channel: np.ndarray  # the channel recorded on the visits (organic during the tracking outage)
    payer: np.ndarray
    engagement: np.ndarray
    ids: np.ndarray


@dataclass
class _Visits:
    """One entry per visit: user index, start (seconds from the period start), length, device, channel."""

    user: np.ndarray
    start: np.ndarray
    seconds: np.ndarray
    device: np.ndarray
    channel: np.ndarray

    def subset(self, rows: np.ndarray) -> "_Visits":
        """Return the visits selected by a boolean mask or an index array."""
        return _Visits(*(getattr(self, f.name)[rows] for f in fields(self)))


@dataclass
class _Decline:
    """Planted decliners: per user the decline day D (-1: none), fade length and purchase stop (days)."""

    decliner: np.ndarray
    day: np.ndarray
    fade_days: np.ndarray
    stop_days: np.ndarray


def _draw_users(rng: np.random.Generator, users: int, days: int, start: date) -> _Users:
    """Return the users: arrival (weekly seasonality, growth), region, device, channel, payer, engagement."""
    day_index = np.arange(days)
    weekday = (start.weekday() + day_index) % 7
    weights = (1 + GROWTH * _period_share_of_days(days)) * WEEKDAY_WEIGHTS[weekday]
    weights *= rng.lognormal(0.0, 0.06, size=days)
    per_day = rng.multinomial(users, weights / weights.sum())
    first_day = np.repeat(day_index, per_day)
    first_start = first_day * DAY + _time_of_day(rng, users)
    order = np.argsort(first_start, kind="stable")
    first_day, first_start = first_day[order], first_start[order]
    period_share = first_day / max(days - 1, 1)

    region = _draw(rng, np.broadcast_to(np.cumsum(REGION_SHARES), (users, len(REGIONS))))
    device = _draw(rng, np.cumsum(DEVICE_MIX, axis=1)[region])
    us_mix = np.cumsum(US_MIX_START) * (1 - period_share[:, None]) + np.cumsum(US_MIX_END) * period_share[:, None]
    us_pick = _draw(rng, us_mix)
    eu_pick = _draw(rng, np.broadcast_to(np.cumsum(EU_MIX), (users, len(EU_CHANNELS))))
    channel_true = np.where(region == 0, np.array(US_CHANNELS)[us_pick], np.array(EU_CHANNELS)[eu_pick])
    channel_true = channel_true.astype(np.int8)
    channel = channel_true.copy()
    if days >= 30:
        outage_first = int(days * OUTAGE_START_SHARE)
        in_outage = (first_day >= outage_first) & (first_day < outage_first + OUTAGE_DAYS)
        channel[in_outage & (channel_true == OUTAGE_CHANNEL)] = ORGANIC

    payer_p = PAYER_RATE[channel_true] * PAYER_REGION_FACTOR[region] * PAYER_DEVICE_FACTOR[device]
    payer = rng.random(users) < payer_p
    engagement = rng.lognormal(-ENGAGEMENT_SIGMA**2 / 2, ENGAGEMENT_SIGMA, size=users)
    engagement *= np.where(payer, PAYER_ENGAGEMENT, 1.0)
    engagement *= np.where(payer & (device == DEVICES.index("Mac")), MAC_PAYER_RETENTION, 1.0)
    return _Users(first_day, first_start, region, device, channel_true, channel, payer, engagement,
                  _user_ids(rng, users))


def _draw_visits(rng: np.random.Generator, u: _Users, days: int) -> _Visits:
    """Return first visits plus return visits from two decaying components, within the period."""
    users = u.first_day.shape[0]
    span = (days - u.first_day).astype(np.float64)  # calendar days from the first visit's day to the end
    short_days = SHORT_DAYS[u.channel_true]
    short_total = u.engagement * SHORT_RATE * SHORT_FACTOR[u.channel_true] * short_days * -np.expm1(-span / short_days)
    tail_total = u.engagement * TAIL_RATE * TAIL_FACTOR[u.channel_true] * TAIL_DAYS * -np.expm1(-span / TAIL_DAYS)
    habit_total = np.where(u.payer, u.engagement * HABIT_RATE * span, 0.0)
    short_user = np.repeat(np.arange(users, dtype=np.int32), rng.poisson(short_total))
    tail_user = np.repeat(np.arange(users, dtype=np.int32), rng.poisson(tail_total))
    habit_user = np.repeat(np.arange(users, dtype=np.int32), rng.poisson(habit_total))
    back_user = np.concatenate([short_user, tail_user, habit_user])
    offset = np.concatenate([
        _truncated_exponential(rng, short_days[short_user], span[short_user]),
        _truncated_exponential(rng, np.full(tail_user.shape[0], TAIL_DAYS), span[tail_user]),
        rng.random(habit_user.shape[0]) * span[habit_user],
    ])
    del short_user, tail_user, habit_user
    offset_days = np.minimum(np.floor(offset).astype(np.int64), span[back_user].astype(np.int64) - 1)
    del offset
    first_seconds = _session_seconds(rng, users)
    n_back = back_user.shape[0]
    back_start = (u.first_day[back_user] + offset_days) * DAY + _time_of_day(rng, n_back)
    # a return visit on the first day starts after the first session has ended
    same_day = offset_days == 0
    gap = 300 + rng.exponential(SAME_DAY_GAP_MEAN, size=n_back).astype(np.int64)
    back_start = np.where(same_day, u.first_start[back_user] + first_seconds[back_user] + gap, back_start)
    del same_day, gap, offset_days
    back_device = u.device[back_user].copy()
    switch = rng.random(n_back) < OTHER_DEVICE_SHARE
    back_device[switch] = (back_device[switch] + rng.integers(1, len(DEVICES), size=int(switch.sum()))) % len(DEVICES)
    back_channel = u.channel[back_user].copy()
    back_channel[rng.random(n_back) < ORGANIC_RETURN_SHARE] = ORGANIC

    visits = _Visits(
        user=np.concatenate([np.arange(users, dtype=np.int32), back_user]),
        start=np.concatenate([u.first_start, back_start]),
        seconds=np.concatenate([first_seconds, _session_seconds(rng, n_back)]),
        device=np.concatenate([u.device, back_device]).astype(np.int8),
        channel=np.concatenate([u.channel, back_channel]).astype(np.int8),
    )
    return visits.subset(visits.start < days * DAY)


def _plant_decliners(rng: np.random.Generator, u: _Users, v: _Visits, days: int) -> tuple[_Visits, _Decline]:
    """Return the visits after thinning and shortening those of the planted decliners, and the decliners.

    Active payers: payers whose first visit is at least 44 days before the end and who have 2+
    visits in the last 90 days. A decline day D is drawn uniformly in the last 120 .. 14 days; a
    payer is eligible when D is 30+ days after the first visit and the 30 days before D hold
    DECLINER_MIN_VISITS+ visits. DECLINER_SHARE of the active payers are drawn among the eligible
    ones, weighted so that D is spread evenly (otherwise the growth of the user base would push
    declines to the end).
    """
    users = u.first_day.shape[0]
    v_day = v.start // DAY
    recent = np.bincount(v.user[v_day >= days - 90], minlength=users)
    active = u.payer & (u.first_day <= days - 44) & (recent >= 2)
    decline_day = np.full(users, -1, dtype=np.int64)
    window_start = max(days - DECLINE_WINDOW_DAYS, 0)
    draw = window_start + np.floor(rng.random(users) * max(days - 14 - window_start + 1, 1)).astype(np.int64)
    candidate = active & (draw >= u.first_day + 30)
    decline_day[candidate] = draw[candidate]
    watched = decline_day[v.user]
    before = (watched >= 0) & (v_day >= watched - 30) & (v_day < watched)
    eligible_ids = np.flatnonzero(candidate & (np.bincount(v.user[before], minlength=users) >= DECLINER_MIN_VISITS))
    del before, watched, v_day
    n_decliners = min(int(round(DECLINER_SHARE * active.sum())), eligible_ids.shape[0])
    decliner = np.zeros(users, dtype=bool)
    if n_decliners:
        week_of_d = (decline_day[eligible_ids] - window_start) // 7
        weight = 1.0 / np.bincount(week_of_d)[week_of_d]
        decliner[rng.choice(eligible_ids, size=n_decliners, replace=False, p=weight / weight.sum())] = True
    decline_day[~decliner] = -1
    decline = _Decline(
        decliner=decliner,
        day=decline_day,
        fade_days=rng.integers(DECLINE_WEEKS[0], DECLINE_WEEKS[1] + 1, size=users),
        stop_days=rng.integers(PURCHASE_STOP_DAYS[0], PURCHASE_STOP_DAYS[1] + 1, size=users),
    )
    # from D on, a visit survives with a probability that drops to DECLINE_STEP and then falls
    # linearly to the floor over fade_days; the sessions that survive shrink from 1 to their floor
    watched = decline_day[v.user]
    since = np.where(watched >= 0, v.start / DAY - watched, -1.0)
    fading = since >= 0
    fade_share = since[fading] / decline.fade_days[v.user[fading]]
    keep = np.ones(v.user.shape[0], dtype=bool)
    survive = np.maximum(DECLINE_VISIT_FLOOR, DECLINE_STEP - (DECLINE_STEP - DECLINE_VISIT_FLOOR) * fade_share)
    keep[fading] = rng.random(int(fading.sum())) < survive
    shrink = np.maximum(DECLINE_SESSION_FLOOR, 1 - (1 - DECLINE_SESSION_FLOOR) * fade_share)
    v.seconds[fading] = np.maximum(5, np.rint(v.seconds[fading] * shrink)).astype(np.int64)
    return v.subset(keep), decline


def _draw_orders(
    rng: np.random.Generator, u: _Users, v: _Visits, decline: _Decline, days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (user index, seconds from the period start, revenue) of the orders, made during visits."""
    users = u.first_day.shape[0]
    by_user = np.lexsort((v.start, v.user))
    s_user, s_start, s_seconds = v.user[by_user], v.start[by_user], v.seconds[by_user]
    del by_user
    per_user = np.bincount(s_user, minlength=users)
    first_row = np.cumsum(per_user) - per_user
    rank = np.arange(s_user.shape[0]) - first_row[s_user]  # 0 = the user's first visit
    first_rank = np.where(rng.random(users) < FIRST_ORDER_AT_FIRST_VISIT, 0,
                          rng.geometric(LATER_FIRST_ORDER_P, size=users))
    first_rank = np.minimum(first_rank, per_user - 1)
    repeat_p = np.where(u.payer, rng.beta(*REPEAT_BETA, size=users) * REPEAT_FACTOR[u.channel_true], 0.0)
    later = (rank > first_rank[s_user]) & (rng.random(s_user.shape[0]) < repeat_p[s_user])
    buys = u.payer[s_user] & ((rank == first_rank[s_user]) | later)
    del rank, later
    o_user = s_user[buys]
    o_time = s_start[buys] + np.floor((0.2 + 0.8 * rng.random(int(buys.sum()))) * s_seconds[buys]).astype(np.int64)
    del s_user, s_start, s_seconds, buys
    stop_at = np.where(decline.decliner, (decline.day + decline.stop_days) * DAY, np.iinfo(np.int64).max)
    kept = (o_time < days * DAY) & (o_time < stop_at[o_user])
    o_user, o_time = o_user[kept], o_time[kept]
    o_revenue = PRICES[rng.choice(len(PRICES), size=o_user.shape[0], p=PRICE_SHARES)]
    return o_user, o_time, o_revenue


def _draw_costs(rng: np.random.Generator, u: _Users, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (day index, channel, amount) of the cost rows: new users x cost per user x noise, per day."""
    n_channels = len(CHANNELS)
    new_users = np.bincount(u.first_day * n_channels + u.channel_true, minlength=days * n_channels)
    new_users = new_users.reshape(days, n_channels)[:, :ORGANIC]
    cpu = CPU_START[:ORGANIC] + (CPU_END - CPU_START)[:ORGANIC] * _period_share_of_days(days)[:, None]
    spend = new_users * cpu * rng.lognormal(0.0, COST_NOISE_SIGMA, size=new_users.shape)
    c_day, c_channel = np.nonzero(new_users > 0)
    c_cost = np.round(spend[c_day, c_channel], 2)
    # a few (day, channel) pairs are booked as two rows that add up to the day's spend
    split = rng.random(c_day.shape[0]) < SPLIT_COST_ROW_SHARE
    part = np.round(c_cost[split] * rng.uniform(0.2, 0.8, size=int(split.sum())), 2)
    rest = c_cost.copy()
    rest[split] = np.round(c_cost[split] - part, 2)
    c_day = np.concatenate([c_day, c_day[split]])
    c_channel = np.concatenate([c_channel, c_channel[split]])
    c_cost = np.concatenate([rest, part])
    order = np.lexsort((c_channel, c_day))
    return c_day[order], c_channel[order].astype(np.int8), c_cost[order]


def generate(
    users: int = DEFAULT_USERS,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    end_date: date = DEFAULT_END_DATE,
    progress: bool = False,
) -> dict[str, pd.DataFrame]:
    """Return the demo data set as frames `visits`, `orders`, `costs` (the schema's columns), seeded."""
    frames, _ = generate_with_truth(users=users, days=days, seed=seed, end_date=end_date, progress=progress)
    return frames


def generate_with_truth(
    users: int = DEFAULT_USERS,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    end_date: date = DEFAULT_END_DATE,
    progress: bool = False,
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Return (the frames of `generate`, the planted ground truth: frame `decliners`), for checks and models.

    `decliners` has one row per planted decliner: user_id, decline_start (date D), fade_days (days over
    which the visit rate falls to its floor) and purchase_stop (first date without purchases).
    """
    if users < 1:
        raise BadInput(f"--users must be at least 1, got {users}")
    if days < 1:
        raise BadInput(f"--days must be at least 1, got {days}")
    rng = np.random.default_rng(seed)
    start = end_date - timedelta(days=days - 1)
    with tqdm(total=6, desc="demo data", unit="step", file=sys.stderr, disable=not progress) as bar:
        bar.set_postfix_str("users")
        u = _draw_users(rng, users, days, start)
        bar.update()
        bar.set_postfix_str("visits")
        v = _draw_visits(rng, u, days)
        bar.update()
        bar.set_postfix_str("decliners")
        v, decline = _plant_decliners(rng, u, v, days)
        bar.update()
        bar.set_postfix_str("orders")
        o_user, o_time, o_revenue = _draw_orders(rng, u, v, decline, days)
        bar.update()
        bar.set_postfix_str("costs")
        c_day, c_channel, c_cost = _draw_costs(rng, u, days)
        bar.update()

        bar.set_postfix_str("frames")
        ids = pd.Series(pd.array(u.ids, dtype="str"))
        v = v.subset(np.argsort(v.start, kind="stable"))
        visits = pd.DataFrame({
            "user_id": ids.take(v.user).reset_index(drop=True),
            "region": _categorical(u.region[v.user], REGIONS),
            "device": _categorical(v.device, DEVICES),
            "channel": _categorical(v.channel, CHANNELS),
            "session_start": _timestamps(start, v.start),
            "session_end": _timestamps(start, v.start + v.seconds),
        })
        del v
        chrono = np.argsort(o_time, kind="stable")
        orders = pd.DataFrame({
            "user_id": ids.take(o_user[chrono]).reset_index(drop=True),
            "event_dt": _timestamps(start, o_time[chrono]),
            "revenue": o_revenue[chrono],
        })
        all_days = [start + timedelta(days=d) for d in range(days + PURCHASE_STOP_DAYS[1] + 1)]
        costs = pd.DataFrame({
            "dt": pd.Series([all_days[d] for d in c_day], dtype=object),
            "channel": _categorical(c_channel, CHANNELS),
            "costs": c_cost,
        })
        declined = np.flatnonzero(decline.decliner)
        truth = {
            "decliners": pd.DataFrame({
                "user_id": ids.take(declined).reset_index(drop=True),
                "decline_start": pd.Series([all_days[d] for d in decline.day[declined]], dtype=object),
                "fade_days": decline.fade_days[declined],
                "purchase_stop": pd.Series(
                    [all_days[d] for d in decline.day[declined] + decline.stop_days[declined]], dtype=object
                ),
            }),
        }
        bar.set_postfix_str("done")
        bar.update()
    return {"visits": visits, "orders": orders, "costs": costs}, truth


def demo_summary(frames: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Return users, visits, orders, payers, revenue and spend of a generated data set."""
    visits, orders, costs = frames["visits"], frames["orders"], frames["costs"]
    return {
        "users": int(visits["user_id"].nunique()),
        "visits": len(visits),
        "orders": len(orders),
        "payers": int(orders["user_id"].nunique()),
        "revenue": float(orders["revenue"].sum()),
        "spend": float(costs["costs"].sum()),
    }
