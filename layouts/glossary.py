"""The glossary, declared once: every term a KPI card or chart of the dashboard uses, with its definition in plain
words for a marketing manager, matching the metric contract (`../shared/spec/metrics.md`, revision 2).

A chart declaration (`Chart(help=terms("retention", "cohort"))`) and a KPI (`Kpi(..., help=terms("dau"))`) name
their terms by key; `layouts.common.chart_card` and `kpi_card` draw a "?" button beside the title or label whose
popover (hover, keyboard focus or a tap) gives those definitions (`help_icon`). docs/glossary.md is
`glossary_markdown()` (tests/layouts/test_glossary.py checks both agree, that every chart and KPI names terms that
exist and that every term is used).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dash import html

from metrics.kpis import ROLLING_DAYS, YEAR_SHIFT_DAYS
from metrics.query import DEFAULT_HORIZON
from ml.risk_bands import HIGH_THRESHOLD, MEDIUM_THRESHOLD
from ml.risk_report import ACTION_RULES, HIGH_VALUE_SEGMENTS
from ml.segments import SEGMENTS


@dataclass(frozen=True)
class Term:
    """One glossary entry: its key, the name shown, the definition in plain words, the section of the glossary
    page, and the contract's own name for it (None: not a metric of the contract, e.g. the churn model's terms)."""

    key: str
    name: str
    definition: str
    section: str
    contract: str | None = None


ACTIVITY, MONEY, COHORTS, COMPARISON, CUSTOMERS = (
    "Users and activity", "Spend, cost and return", "Cohorts", "Periods and comparison", "Customers and risk")
SECTIONS = (ACTIVITY, MONEY, COHORTS, COMPARISON, CUSTOMERS)


def _words(values) -> str:
    """Return `values` as "a, b and c"."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


_TERMS = (
    # ------------------------------------------------------------------ users and activity
    Term("users", "Users to date",
         "Everyone matching the filters whose first visit was on or before the last day of the period, counted as of "
         "the observation date.", ACTIVITY, "users"),
    Term("new_users", "New users",
         "People whose first visit falls in the period. Each user belongs to the country, device and channel of "
         "their first visit; the filters select users by these.", ACTIVITY, "new_users"),
    Term("dau", "DAU (daily active users)",
         "How many different people visited on a day. As a key figure: the average over every day of the period, a "
         "day without any visit counting as 0.", ACTIVITY, "DAU(d)"),
    Term("wau", "WAU (weekly active users)",
         "How many different people visited in the 7 days ending on a day (a rolling week). As a key figure: the "
         "average of that number over the days of the period.", ACTIVITY, "WAU7(d)"),
    Term("mau", "MAU (monthly active users)",
         "How many different people visited in the 30 days ending on a day (a rolling month). As a key figure: the "
         "average of that number over the days of the period.", ACTIVITY, "MAU30(d)"),
    Term("sticky", "Sticky factor",
         "DAU / MAU: the share of a month's users who come on an average day. 20% means a typical monthly user "
         "visits about one day in five.", ACTIVITY, "sticky_mau"),
    Term("asl_seconds", "Average session length",
         "The average time from the start to the end of a visit, over the visits that started in the period.",
         ACTIVITY, "asl_seconds"),
    Term("payer_share", "Payer share",
         "The share of the period's new users who had placed at least one order by the observation date.",
         ACTIVITY, "payer_share"),
    # ------------------------------------------------------------------ money
    Term("revenue", "Revenue",
         "The sum of the orders the filtered users placed in the period.", MONEY, "revenue"),
    Term("spend", "Ad spend",
         "What advertising cost in the period, by the date of the cost (the channel filter applies). With a "
         "country or device filter: only the spend attributed to the new users from those countries or devices "
         "(the sum of their acquisition costs), because ad costs are not recorded by country or device. The same "
         "rule holds on every screen.", MONEY, "spend"),
    Term("acquisition_cost", "Acquisition cost of a user",
         "A channel's ad spend on a day divided by all the new users it brought that day: each of them cost that "
         "much, whatever the filters. Users of unpaid channels (organic) cost nothing.", MONEY, "acquisition_cost"),
    Term("unattributed", "Unattributed spend",
         "Spend on a day and channel that brought no new user at all (for example during a tracking outage). It "
         "belongs to no user, so it is shown on its own and never spread over other days. A country or device "
         "filter does not change it; a channel filter does.", MONEY, "unattributed"),
    Term("paid_channel", "Paid channel",
         "A channel with at least one ad cost. Other channels (such as organic) are unpaid: they have no CAC, ROI "
         "or payback, shown as —.", MONEY, "paid channel"),
    Term("cac", "CAC (period's new users)",
         "Customer acquisition cost of the period's new users: the spend attributed to the new users of paid "
         "channels divided by their number (organic users are left out). Not the CAC of the horizon cohort used by "
         "LTV, ROI and payback.", MONEY, "cac"),
    Term("cac_cohort", "CAC (horizon cohort)",
         "Customer acquisition cost of the horizon cohort: the average acquisition cost of the paid-channel users "
         "who joined early enough to be followed for the whole horizon. ROI and payback divide by it. It differs "
         "from the CAC of the period's new users because the period's last horizon − 1 days are left out.",
         MONEY, "cac_paid"),
    Term("cost_per_payer", "Cost per paying user",
         "The spend attributed to the period's new users of a channel divided by those of them who had paid by "
         "the observation date.", MONEY),
    Term("ltv", "LTV (lifetime value)",
         "Revenue per cohort user, cumulative: everything the cohort's users paid up to a lifetime day, divided by "
         "the number of users in the cohort (payers and non-payers).", MONEY, "ltv(k)"),
    Term("roi", "ROI at the horizon",
         "Return on ad spend of the paid cohort by the last day of the horizon (lifetime day horizon − 1): its LTV "
         "divided by its CAC (horizon cohort). 1.00× means its users have paid back what they cost; below, not "
         "yet.", MONEY, "roi(H-1)"),
    Term("roi_curve", "ROI by lifetime",
         "ROI of the paid cohort on each lifetime day: its LTV by that day divided by its CAC (horizon cohort). "
         "The dashed line at 1.0 is break-even.", MONEY, "roi(k)"),
    Term("rolling_roi", "ROI by acquisition date",
         f"ROI at the horizon of the users acquired around each date, over a {ROLLING_DAYS}-day window: the "
         f"revenue of the paid cohorts of those {ROLLING_DAYS} days by lifetime day horizon − 1 divided by what "
         "they cost (weighted by cost, not an average of daily ROIs). Shows which groups pay back, and since "
         "when.", MONEY),
    Term("payback_day", "Payback day",
         "The first lifetime day on which the paid cohort's ROI reaches 1.0: its users have paid back their CAC "
         "(horizon cohort). Not reached within the horizon: the table says so (\"never within 14 days\" for a "
         "14-day horizon).",
         MONEY, "payback day"),
    # ------------------------------------------------------------------ cohorts
    Term("cohort", "Cohort",
         "Users grouped by when they first visited (the heatmaps: by week). A cohort holds only users who can be "
         "followed for the whole horizon: first visit from the start of the period to the observation date minus "
         "horizon − 1 days.", COHORTS, "Cohort"),
    Term("lifetime", "Lifetime day",
         "Days since a user's first visit, in whole 24-hour steps: day 0 is the first 24 hours.", COHORTS,
         "Lifetime"),
    Term("retention", "Retention",
         "The share of a cohort that visited on a given lifetime day (on exactly that day, not by that day).",
         COHORTS, "retention(k)"),
    Term("conversion", "Conversion",
         "The share of a cohort that had placed its first order by a given lifetime day (cumulative: it only "
         "grows).", COHORTS, "conversion(k)"),
    Term("horizon", "Horizon",
         f"How many lifetime days the cohort figures follow: days 0 to horizon − 1 (default {DEFAULT_HORIZON}). A "
         "longer horizon needs users who joined earlier.", COHORTS, "horizon"),
    # ------------------------------------------------------------------ periods and comparison
    Term("observation_date", "Observation date",
         "The day the numbers are seen from: visits, orders and costs after it are ignored everywhere, as if it "
         "were today. By default the last day of the period.", COMPARISON, "observation_date"),
    Term("comparison", "Comparison period",
         "Previous period: the same number of days right before the period, seen from an observation date that "
         "many days earlier, so both periods had the same time to mature. Previous year: the same days "
         f"{YEAR_SHIFT_DAYS} days (52 weeks) earlier, weekdays aligned, seen from an observation date "
         f"{YEAR_SHIFT_DAYS} days earlier. The change is (this period − comparison) "
         "/ comparison; green when it is good, red when it is bad, grey when neither.", COMPARISON,
         "previous period"),
    Term("not_available", "n/a",
         "No change is shown when the comparison period starts before the first day of the data: its averages "
         "would count days without data. Choose a later period (for example the last 28 days) or no comparison. "
         "A value that cannot exist (0 / 0, the CAC of organic users) shows —.", COMPARISON, "comparable"),
    # ------------------------------------------------------------------ forecasts (the what-if page)
    Term("what_if", "What-if of a daily budget",
         "What a daily budget on one paid channel, country and device over a period would bring: the acquisition-"
         "cost model's expected CAC of each day, the new users the budget buys (budget / CAC), the spend, and from "
         "the channel's observed LTV curve (its users of the last 8 weeks followed for the horizon) the revenue by "
         "the horizon, the ROI (revenue / spend) and the payback day (the first lifetime day on which the LTV "
         "reaches the CAC). These are the model's estimates: for budgets larger or smaller than the channel has "
         "had, it extrapolates (in the demo its CAC rises with the budget), so read them with their interval.",
         MONEY),
    Term("forecast_interval", "80% interval",
         "The range the figure falls in 8 times out of 10 if the past repeats. The CAC's comes from the model's "
         "error on the last 28 days it was tested on (held out of its training); the LTV's from how much the "
         "channel's weekly cohorts differed; users, revenue, ROI and payback combine both ends.", MONEY),
    Term("what_if_roi", "Cumulative ROI of the budget",
         "Revenue the budget's users would have brought by each lifetime day, divided by the spend: the channel's "
         "observed LTV by that day over the expected CAC. The band is its 80% interval; the dashed line at 1.0 is "
         "break-even (the payback day is where the line crosses it).", MONEY),
    Term("cac_model", "Acquisition-cost model",
         "A regression predicting a day's CAC of a channel, country and device from the day's spend, the channel's "
         "recent CAC and new users, the calendar and the share of high-value customers. Five kinds of model are "
         "tried (ridge, nearest neighbours, SVR, random forest, gradient boosting), each scored on later days than "
         "it learnt from (time-ordered cross-validation: R² — 1 is perfect —, MAE — the average miss in money —, "
         "MAPE — in percent); the best CV MAE is chosen and tested on the last 28 days against a naive forecast "
         "(each group's CAC of the previous 7 days).", MONEY),
    Term("validation_curve", "Validation curve",
         "Each kind of model's score for each value of its main setting (ridge: alpha, neighbours: k, SVR: gamma, "
         "forest: leaf size, boosting: learning rate), on the days it learnt from (train) and on later days (CV). "
         "A large gap between the two means the model learns noise.", MONEY),
    Term("learning_curve", "Learning curve",
         "The chosen model's score when it learns from only the latest 25, 50, 75 or 100% of the training days: a "
         "CV score still rising at 100% means more history would help.", MONEY),
    # ------------------------------------------------------------------ customers and risk
    Term("rfm_segments", "RFM segments",
         "Customers (users with an order by the observation date) scored 1–5 by quintiles on recency (days since "
         "the last order), frequency (number of orders) and monetary value (total revenue), 5 = best, and named "
         f"from the recency score and the mean of the other two: {_words(SEGMENTS)}.", CUSTOMERS),
    Term("churn_score", "Churn score",
         "The model's probability that a regular customer will buy and visit less than half as often as usual in "
         "the coming weeks (30 days for the default model). The Risk page shows the latest scoring on or before "
         "the observation date and says its date.", CUSTOMERS),
    Term("risk_band", "Risk band",
         f"High: churn score {HIGH_THRESHOLD:.1f} or more; medium: {MEDIUM_THRESHOLD:.1f} up to "
         f"{HIGH_THRESHOLD:.1f}; low: below {MEDIUM_THRESHOLD:.1f}.", CUSTOMERS),
    Term("value_at_risk", "Revenue at risk",
         "Churn score × the customer's revenue of the last 90 days: the revenue the customer's decline would "
         "likely cost.", CUSTOMERS),
    Term("target_segment", "Target segment",
         f"Customers in the high risk band who are in a high-value RFM segment ({_words(HIGH_VALUE_SEGMENTS)}): "
         "the ones worth a personal offer now.", CUSTOMERS),
    Term("effect_size", "How the target differs",
         "For each behaviour, the target segment's average against everyone else's, in plain words (\"visits 3.1× "
         "higher\"), the clearest difference first.", CUSTOMERS),
    Term("churn_reasons", "Reasons",
         "For each customer, the three behaviours that raised the churn score most, with the customer's own "
         "numbers. For a group, customers are grouped by the wording of their reasons, with the median numbers.",
         CUSTOMERS),
    Term("recommended_action", "Recommended action",
         "One action per customer, from the first of these rules that holds: "
         + "; ".join(f"{condition} → {action}" for condition, action in ACTION_RULES) + ".",
         CUSTOMERS),
    Term("clusters", "Customer clusters",
         "Groups of customers with similar recency, frequency and spend, found by the computer (k-means on "
         "log-scaled, standardised values). The number of groups is the one that separates them best (the highest "
         "silhouette); each group is named by how it differs from the average customer.", CUSTOMERS),
    Term("segment_tests", "Segment tests",
         "Conversion and retention of each group against all other users of the cohort, with a test of whether "
         "the difference could be chance (two-proportion z-test; p-values corrected for testing many groups at "
         "once, Holm). A p-value below 0.05 is usually read as a real difference.", CUSTOMERS),
)

GLOSSARY: dict[str, Term] = {term.key: term for term in _TERMS}


class HelpTerms(tuple):
    """The glossary keys a chart or KPI card explains in its help popover (made by `terms`)."""


def terms(*keys: str) -> HelpTerms:
    """Return the help of a chart or KPI: glossary `keys`, checked to exist (KeyError naming the unknown ones)."""
    unknown = [key for key in keys if key not in GLOSSARY]
    if not keys or unknown:
        raise KeyError(f"no glossary entry for {unknown or 'an empty help'}; add it to layouts/glossary.py")
    return HelpTerms(keys)


def help_entries(help_spec) -> list[tuple[str, str]]:
    """Return the (name, definition) pairs a help popover shows: the glossary terms of a `HelpTerms`, or one pair
    with no name for a plain text (a page outside the product may still write its help as text); [] for None."""
    if help_spec is None or help_spec == "":
        return []
    if isinstance(help_spec, HelpTerms):
        return [(GLOSSARY[key].name, GLOSSARY[key].definition) for key in help_spec]
    return [("", str(help_spec))]


def help_button_id(owner_id: str) -> str:
    """Return the id of the help button of the card `owner_id` (a chart card's or a KPI card's id)."""
    return f"{owner_id}-help"


def help_icon(owner_id: str, help_spec, subject: str) -> html.Button | None:
    """Return the "?" button of card `owner_id` holding `help_spec`'s definitions for its popover (hover, keyboard
    focus or a tap opens it; Escape, moving away or a tap elsewhere closes it: assets/help_popover.js draws it from
    the button's `data-help`, [[term, definition], ...]); None without help. `subject` is what the button explains,
    for its accessible name ("What is DAU?")."""
    entries = help_entries(help_spec)
    if not entries:
        return None
    return html.Button("?", id=help_button_id(owner_id), type="button", className="help-icon",
                       **{"aria-label": f"What is {subject}?",
                          "data-help": json.dumps([[name, definition] for name, definition in entries])})


def glossary_markdown() -> str:
    """Return docs/glossary.md: every term by section, its definition and the contract's name for it."""
    lines = ["# Glossary", "",
             "Every KPI card and chart title of the dashboard has a **?** button beside it; hovering, focusing or "
             "tapping it shows the definitions below. They say in plain words what the metric contract "
             "(`../shared/spec/metrics.md`, revision 2) defines; the contract's name of a term is in the last "
             "column.", "",
             "This page is generated from `layouts/glossary.py`, the one source of the help texts "
             "(`tests/layouts/test_glossary.py` fails when they differ). To regenerate it:", "",
             "```bash",
             "python3 -c 'from layouts.glossary import glossary_markdown; print(glossary_markdown(), end=\"\")' "
             "> docs/glossary.md",
             "```", ""]
    for section in SECTIONS:
        lines += [f"## {section}", "", "| term | definition | contract |", "|---|---|---|"]
        for term in _TERMS:
            if term.section == section:
                contract = f"`{term.contract}`" if term.contract else "—"
                lines.append(f"| **{term.name}** (`{term.key}`) | {term.definition.replace('|', '/')} | {contract} |")
        lines.append("")
    return "\n".join(lines)
