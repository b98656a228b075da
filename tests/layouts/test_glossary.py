"""The one glossary (layouts/glossary.py): every chart and KPI card takes its help from it by key, draws a "?" help
button that holds those definitions for its popover (assets/help_popover.js draws it from the button's data-help),
every entry is used, the terms agree with the metric contract and
docs/glossary.md is generated from it."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import dash_bootstrap_components as dbc
import pandas as pd
import pytest
from dash import html

import metrics
from callbacks.pages import available_pages
from layouts import overview as O
from layouts.common import chart_card
from layouts.glossary import GLOSSARY, SECTIONS, HelpTerms, glossary_markdown, help_button_id, help_entries, terms
from layouts.ids import OverviewIds, chart_card_id
from metrics.kpis import KPI_NAMES, YEAR_SHIFT_DAYS
from ml.risk_bands import HIGH_THRESHOLD, MEDIUM_THRESHOLD
from ml.risk_report import HIGH_VALUE_SEGMENTS

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "spec" / "metrics.md"


def _declared_charts():
    """Return [(page path, Chart)] of every chart declared on a page (the pages' CHARTS tuples)."""
    return [(page.path, chart) for page in available_pages() for chart in page.charts]


def _kpi_cards() -> html.Div:
    """Return the Overview's twelve KPI cards for made-up values against a comparable previous period."""
    previous = {"users": 500, "new_users": 100, "dau": 10.0, "wau": 40.0, "mau": 80.0, "asl_seconds": 600.0,
                "sticky": 0.125, "revenue": 75.5, "spend": 20.0, "cac": 1.0, "roi": 0.9, "payer_share": 0.1}
    table = pd.DataFrame([{"kpi": key, "value": value * 1.5, "previous_value": value, "change": 0.5}
                          for key, value in previous.items()])
    period = metrics.ComparisonPeriod(dt.date(2026, 5, 1), dt.date(2026, 5, 31), dt.date(2026, 5, 31), True, "")
    return O.kpi_cards(O.kpi_rows(table), "previous", period)


def _help_of(layout, owner_id: str) -> tuple[html.Button, str]:
    """Return (the help button of card `owner_id` in `layout`, the text its popover shows: "term: definition" per
    entry of its data-help, as assets/help_popover.js writes it)."""
    button_id = help_button_id(owner_id)
    components = list(layout._traverse())
    buttons = [c for c in components if isinstance(c, html.Button) and getattr(c, "id", None) == button_id]
    assert len(buttons) == 1, owner_id
    entries = json.loads(getattr(buttons[0], "data-help"))
    assert entries and all(isinstance(e, list) and len(e) == 2 for e in entries), owner_id
    assert not [c for c in components if isinstance(c, dbc.Popover)]  # one popover for the page, in the browser
    return buttons[0], "\n".join(f"{name}: {definition}" if name else definition for name, definition in entries)


def _contract_kpis() -> list[str]:
    """Return the KPI names of the contract's table "KPIs and comparison (revision 2)", in order."""
    text = CONTRACT.read_text()
    section = text.split("## KPIs and comparison", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 2:
            names += re.findall(r"`([a-z_]+)`", cells[1])
    return names


# ------------------------------------------------------------------------------------------------ by key


def test_glo001_every_chart_and_kpi_takes_its_help_from_the_glossary_by_key():
    """Every declared chart and every KPI names glossary keys (no free text); a KPI's own key is one of them."""
    charts = _declared_charts()
    assert len(charts) >= 25  # 29 on 2026-12-07: every page but Data declares charts
    for path, chart in charts:
        assert isinstance(chart.help, HelpTerms) and len(chart.help) >= 1, (path, chart.name, chart.help)
        assert all(key in GLOSSARY for key in chart.help), (path, chart.name)
    assert len(O.KPIS) == 12
    for kpi in O.KPIS:
        assert isinstance(kpi.help, HelpTerms) and kpi.help[0] == kpi.key, kpi.key


def test_glo002_every_glossary_entry_is_used_by_a_chart_or_a_kpi():
    used = {key for _, chart in _declared_charts() for key in chart.help} | {key for k in O.KPIS for key in k.help}
    assert set(GLOSSARY) - used == set()


def test_glo003_terms_refuses_a_key_without_an_entry():
    assert terms("dau", "wau") == ("dau", "wau")
    with pytest.raises(KeyError, match="retention_curvs"):
        terms("retention", "retention_curvs")
    with pytest.raises(KeyError):
        terms()
    # a plain text (a page outside the product) is still shown, as one unnamed definition
    assert help_entries("Distinct users with a visit each day.") == [("", "Distinct users with a visit each day.")]
    assert help_entries(None) == []


# ------------------------------------------------------------------------------------------------ rendered


def test_glo004_every_chart_card_renders_a_help_button_with_its_definitions():
    """On every page, each chart card's title has a focusable "?" button with an aria-label, and the popover attached
    to it holds the name and the definition of every term the chart names; no card shows its help as a second line."""
    for page in available_pages():
        layout = page.layout({p.name: p.default for p in page.page_params})
        for chart in page.charts:
            button, text = _help_of(layout, chart_card_id(chart.name))
            assert button.type == "button" and button.children == "?", chart.name
            assert getattr(button, "aria-label") == f"What is {chart.title}?", chart.name
            for key in chart.help:
                assert GLOSSARY[key].name in text and GLOSSARY[key].definition in text, (chart.name, key)
    card = chart_card("made-up", "Made up", terms("retention"))
    assert not [c for c in card._traverse() if isinstance(c, html.Small)]


def test_glo005_every_kpi_card_renders_a_help_button_with_its_definition():
    cards = _kpi_cards()
    for kpi in O.KPIS:
        button, text = _help_of(cards, OverviewIds.kpi_card(kpi.key))
        assert getattr(button, "aria-label") == f"What is {kpi.label}?"
        for key in kpi.help:
            assert GLOSSARY[key].definition in text, kpi.key
    # the label itself is no longer a hover title: the definition is only in the popover
    labels = [c for c in cards._traverse() if getattr(c, "className", None) == "kpi-label"]
    assert len(labels) == 12 and all(getattr(label, "title", None) is None for label in labels)


# ------------------------------------------------------------------------------------------------ the contract


def test_glo006_cac_definitions_say_which_cac():
    """The two CACs are two entries whose names say which users they divide by; every chart showing a CAC explains
    the one it shows (the payback table: the horizon cohort's; the CAC charts and cards: the period's new users)."""
    period, cohort = GLOSSARY["cac"], GLOSSARY["cac_cohort"]
    assert period.name == "CAC (period's new users)" and cohort.name == "CAC (horizon cohort)"
    assert "period's new users" in period.definition and "horizon cohort" in period.definition
    assert "horizon cohort" in cohort.definition and "period's new users" in cohort.definition
    for key in ("roi", "roi_curve", "payback_day"):
        assert "CAC (horizon cohort)" in GLOSSARY[key].definition, key
    helps = {chart.name: chart.help for _, chart in _declared_charts()}
    assert "cac_cohort" in helps["mkt-payback-table"] and "cac" not in helps["mkt-payback-table"]
    for _, chart in _declared_charts():
        if "CAC" in chart.title:
            assert "cac" in chart.help, chart.name
        labels = chart.columns if isinstance(chart.columns, dict) else {}
        if any(label.startswith("CAC") for label in labels.values()):
            assert "cac" in chart.help, chart.name
    assert O.KPI_BY_KEY["cac"].help == ("cac",)


def test_glo007_glossary_terms_agree_with_the_contract():
    """Each KPI of the contract's table is a glossary key (and one of metrics.kpis.KPI_NAMES); the contract's name
    of every metric term occurs in the contract; the numbers the definitions state are those of the contract and
    the code (rolling 7 and 30 days, 364 days, the default horizon, the risk thresholds, the high-value segments)."""
    contract = CONTRACT.read_text()
    kpis = _contract_kpis()
    assert kpis == ["users", "new_users", "dau", "wau", "mau", "asl_seconds", "sticky", "revenue", "spend", "cac",
                    "roi", "payer_share"]
    assert set(kpis) == set(KPI_NAMES) == {k.key for k in O.KPIS}
    assert set(kpis) <= set(GLOSSARY)
    for term in GLOSSARY.values():
        assert term.section in SECTIONS, term.key
        if term.contract is not None:
            assert term.contract in contract, (term.key, term.contract)
    assert "7 days" in GLOSSARY["wau"].definition and "WAU7(d)" in contract
    assert "30 days" in GLOSSARY["mau"].definition and "MAU30(d)" in contract
    assert "average" in GLOSSARY["wau"].definition and "mean of WAU7(d)" in contract
    assert GLOSSARY["sticky"].definition.startswith("DAU / MAU") and "`sticky` | `sticky_mau`" in contract
    assert f"{YEAR_SHIFT_DAYS} days" in GLOSSARY["comparison"].definition and "364" in contract
    spend = GLOSSARY["spend"].definition
    assert "country or device filter" in spend and "attributed" in spend and "every screen" in spend
    assert "first day of the data" in GLOSSARY["not_available"].definition and "first date" in contract
    assert f"default {metrics.query.DEFAULT_HORIZON}" in GLOSSARY["horizon"].definition and "default 14" in contract
    assert f"{HIGH_THRESHOLD:.1f} or more" in GLOSSARY["risk_band"].definition
    assert f"below {MEDIUM_THRESHOLD:.1f}" in GLOSSARY["risk_band"].definition
    assert all(name in GLOSSARY["target_segment"].definition for name in HIGH_VALUE_SEGMENTS)


# ------------------------------------------------------------------------------------------------ docs


def test_glo008_docs_glossary_is_generated_from_the_glossary_and_linked():
    docs = ROOT / "docs" / "glossary.md"
    assert docs.read_text() == glossary_markdown(), (
        "docs/glossary.md differs from layouts/glossary.py; regenerate it with: python3 -c 'from layouts.glossary "
        "import glossary_markdown; print(glossary_markdown(), end=\"\")' > docs/glossary.md")
    text = docs.read_text()
    assert all(f"**{term.name}** (`{term.key}`)" in text for term in GLOSSARY.values())
    assert "](glossary.md)" in (ROOT / "docs" / "dashboard.md").read_text()
