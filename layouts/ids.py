"""Component ids, declared once: one class per page (all of its ids); chart cards derive theirs from the chart name."""

from __future__ import annotations


class ShellIds:
    """Ids of the components every page shares."""

    URL = "url"
    PAGE = "page-content"
    NAVBAR = "navbar"
    RESET = "filter-reset"
    NOT_FOUND = "not-found"


class FilterIds:
    """Ids of the global filter bar and of the validated filter state it writes."""

    BAR = "filter-bar"
    DATE_RANGE = "filter-date-range"
    PERIOD = "filter-period"  # the period preset select beside the dates (last 28 days, ..., all data)
    PERIOD_GROUP = "filter-period-group"
    COUNTRY = "filter-country"
    DEVICE = "filter-device"
    CHANNEL = "filter-channel"
    OBSERVATION_DATE = "filter-observation-date"
    HORIZON = "filter-horizon"
    OBSERVATION_GROUP = "filter-observation-group"
    HORIZON_GROUP = "filter-horizon-group"
    NOTES = "filter-notes"
    STATE = "filter-state"  # dcc.Store: the validated filters every chart reads
    # dcc.Store: the kind of database outage the filter sync met (None: none); the charts' input for a change of it,
    # since they read the controls, not the stored state, as inputs
    OUTAGE = "filter-outage"
    TOGGLE = "filter-toggle"  # the "Filters" button that opens the bar on narrow screens
    COLLAPSE = "filter-collapse"  # the part of the bar the button opens and closes
    SUMMARY = "filter-summary"  # beside the button: the filters in force, in a few words


class OverviewIds:
    """Every id of the Overview page: its charts' names (card ids derive from them) and its own components."""

    PAGE = "overview-page"
    KPIS = "overview-kpis"
    ACTIVITY = "overview-activity"
    REVENUE_SPEND = "overview-revenue-spend"
    KPI_CARDS = "overview-kpi-cards"
    COMPARISON_NOTE = "kpi-comparison-note"
    COMPARE_LAST_WEEKS = "kpi-compare-last-weeks"

    @staticmethod
    def kpi_card(key: str) -> str:
        """Return the id of the card of KPI `key` (e.g. "cac")."""
        return f"kpi-{key}"

    @staticmethod
    def kpi_value(key: str) -> str:
        """Return the id of the value shown on KPI `key`'s card."""
        return f"kpi-{key}-value"

    @staticmethod
    def kpi_change(key: str) -> str:
        """Return the id of the change line on KPI `key`'s card."""
        return f"kpi-{key}-change"

    @staticmethod
    def kpi_sparkline(key: str) -> str:
        """Return the id of the sparkline image on KPI `key`'s card."""
        return f"kpi-{key}-sparkline"


class AcquisitionIds:
    """Every id of the Acquisition page: its charts' names and its own components."""

    PAGE = "acquisition-page"
    NEW_USERS = "acq-new-users"
    BY_COUNTRY = "acq-by-country"
    BY_DEVICE = "acq-by-device"
    BY_CHANNEL = "acq-by-channel"
    PAYING_CHANNELS = "acq-paying-channels"


class MarketingIds:
    """Every id of the Marketing page: its charts' names and its own components."""

    PAGE = "marketing-page"
    SPEND_OVER_TIME = "mkt-spend-over-time"
    SPEND_SHARE = "mkt-spend-share"
    CAC_BY_CHANNEL = "mkt-cac-by-channel"
    CAC_OVER_TIME = "mkt-cac-over-time"
    CHANNEL_TABLE = "mkt-channel-table"
    UNATTRIBUTED = "mkt-unattributed"
    LTV_CURVES = "mkt-ltv-curves"
    ROI_CURVES = "mkt-roi-curves"
    ROI_BY_DATE = "mkt-roi-by-date"
    PAYBACK_TABLE = "mkt-payback-table"


class CohortIds:
    """Every id of the Cohorts page: its charts' names and its own components."""

    PAGE = "cohorts-page"
    RETENTION_HEATMAP = "coh-retention-heatmap"
    RETENTION_CURVES = "coh-retention-curves"
    CONVERSION_HEATMAP = "coh-conversion-heatmap"
    CONVERSION_CURVES = "coh-conversion-curves"


class RiskIds:
    """Every id of the segment-risk page: its charts' names, the notices above it and the demo-model poll."""

    DISTRIBUTION = "risk-distribution"
    MATRIX = "risk-matrix"
    TARGET_PROFILE = "risk-target-profile"
    TARGET_REASONS = "risk-target-reasons"
    SEGMENT_TESTS = "risk-segment-tests"
    CUSTOMERS = "risk-customers"
    SEGMENTS = "risk-segments"
    CLUSTERS = "risk-clusters"
    STATUS = "risk-status"
    NO_SCORES = "risk-no-scores"
    DEMO_MODEL = "risk-demo-model"
    DEMO_POLL = "risk-demo-model-poll"
    DEMO_FINISHED = "risk-demo-model-finished"
    TARGET_SUMMARY = "risk-target-summary"
    CLUSTERS_SUMMARY = "risk-clusters-summary"
    SCORES_AS_OF = "risk-scores-as-of"
    SCORES_DATE = "risk-scores-date"  # holds the SCORES_AS_OF line


class ForecastIds:
    """Every id of the what-if page (/forecast): its form, its cards (charts with their own callbacks), the notice
    and the sentence above them, and the store of the last answer (what the downloads read)."""

    CHANNEL = "fc-channel"
    REGION = "fc-region"
    DEVICE = "fc-device"
    START = "fc-start"
    DAYS = "fc-days"
    BUDGET = "fc-budget"
    HORIZON = "fc-horizon"
    STATUS = "fc-status"
    SENTENCE = "fc-sentence"
    RESULT = "fc-result"
    FIGURES = "fc-figures"
    ROI = "fc-roi"
    MODELS = "fc-models"
    VALIDATION = "fc-validation"
    LEARNING = "fc-learning"

    @staticmethod
    def figure_value(key: str) -> str:
        """Return the id of one what-if figure's value ("fc-value-cac")."""
        return f"fc-value-{key}"


class DataPageIds:
    """Every id of the Data page."""

    EMPTY_NOTICE = "empty-database-notice"
    SUMMARY = "database-summary"
    SUMMARY_TABLE = "database-summary-table"
    DERIVED_NOTE = "derived-note"
    CHURN_SCORES = "churn-scores"  # the section the Risk page links to (also its URL fragment)


class DataAdminIds:
    """Ids of the Data page's administration; every one starts with "data-admin-" (access rule: admin only)."""

    AREA = "data-admin-area"
    LIMITS = "data-admin-limits"  # dcc.Store: {"max_bytes": upload limit} for the browser's size check
    IMPORT_OPTIONS = "data-admin-import-options"
    IMPORT_START = "data-admin-import-start"
    IMPORT_JOB = "data-admin-import-job"  # dcc.Store: {"id": job id} or {"error": why it did not start}
    IMPORT_STATUS = "data-admin-import-status"
    IMPORT_SHOWN = "data-admin-import-shown"  # dcc.Store inside the status: the job shown ({"id", "files"})
    IMPORT_PROGRESS = "data-admin-import-progress"
    IMPORT_SUMMARY = "data-admin-import-summary"
    IMPORT_MESSAGE = "data-admin-import-message"
    IMPORT_FILES_BUTTON = "data-admin-import-files-button"
    IMPORT_DOWNLOAD = "data-admin-import-download"
    JOB_KIND = "data-admin-job-kind"
    JOB_START = "data-admin-job-start"
    JOB_ID = "data-admin-job-id"  # dcc.Store: {"id": job id} or {"error": why it did not start}
    JOB_STATUS = "data-admin-job-status"
    JOB_SHOWN = "data-admin-job-shown"
    JOB_PROGRESS = "data-admin-job-progress"
    JOB_MESSAGE = "data-admin-job-message"
    JOB_FILES_BUTTON = "data-admin-job-files-button"
    JOB_DOWNLOAD = "data-admin-job-download"
    POLL = "data-admin-poll"  # dcc.Interval: reads the shown jobs' status while one runs
    FINISHED = "data-admin-finished"  # dcc.Store: the ended jobs shown; a change reads the history and the log again
    HISTORY = "data-admin-history"
    HISTORY_NOTE = "data-admin-history-note"
    HISTORY_REFRESH = "data-admin-history-refresh"
    AUDIT = "data-admin-audit"
    AUDIT_NOTE = "data-admin-audit-note"
    AUDIT_REFRESH = "data-admin-audit-refresh"

    @staticmethod
    def upload(kind: str) -> str:
        """Return the id of the dcc.Upload of import input `kind` ("data-admin-upload-visits")."""
        return f"data-admin-upload-{kind}"

    @staticmethod
    def upload_name(kind: str) -> str:
        """Return the id of the line naming the file chosen for input `kind`."""
        return f"data-admin-upload-{kind}-name"


class AdminAccountsIds:
    """Ids of the accounts panel; every one starts with "admin-accounts-" (access rule: admin only)."""

    PANEL = "admin-accounts-panel"
    CHANGED = "admin-accounts-changed"  # dcc.Store: bumped after every account action, the lists read it again
    TOKENS_CHANGED = "admin-accounts-tokens-changed"  # dcc.Store: bumped after every token action
    ACCOUNTS_TABLE = "admin-accounts-table"
    ACCOUNT_MESSAGE = "admin-accounts-message"
    # add an account
    NEW_NAME = "admin-accounts-new-name"
    NEW_ROLE = "admin-accounts-new-role"
    NEW_PASSWORD = "admin-accounts-new-password"
    NEW_PASSWORD_AGAIN = "admin-accounts-new-password-again"
    ADD = "admin-accounts-add"
    # change an account
    TARGET = "admin-accounts-target"
    TARGET_ROLE = "admin-accounts-target-role"
    SET_ROLE = "admin-accounts-set-role"
    RESET_PASSWORD_FIELD = "admin-accounts-reset-password-field"
    RESET_PASSWORD_AGAIN = "admin-accounts-reset-password-again"
    RESET_PASSWORD = "admin-accounts-reset-password"
    DISABLE = "admin-accounts-disable"  # a ConfirmDialogProvider: its submit_n_clicks
    REMOVE = "admin-accounts-remove"  # a ConfirmDialogProvider: its submit_n_clicks
    # API tokens
    TOKENS_TABLE = "admin-accounts-tokens-table"
    TOKEN_MESSAGE = "admin-accounts-token-message"
    TOKEN_NAME = "admin-accounts-token-name"
    TOKEN_ACCOUNT = "admin-accounts-token-account"
    TOKEN_SCOPE = "admin-accounts-token-scope"
    TOKEN_DAYS = "admin-accounts-token-days"
    CREATE_TOKEN = "admin-accounts-create-token"
    TOKEN_SECRET = "admin-accounts-token-secret"  # the new token's text, shown once
    TOKEN_SECRET_TEXT = "admin-accounts-token-secret-text"
    REVOKE_TARGET = "admin-accounts-revoke-target"
    REVOKE = "admin-accounts-revoke"  # a ConfirmDialogProvider: its submit_n_clicks


def nav_link_id(path: str) -> dict:
    """Return the id of the navbar link to `path` (pattern-matching, so pages can be added freely)."""
    return {"type": "nav-link", "path": path}


def page_param_id(name: str) -> dict:
    """Return the id of the control holding page-specific URL parameter `name` (e.g. breakdown)."""
    return {"type": "page-param", "name": name}


def chart_body_id(name: str) -> str:
    """Return the id of the Div a chart's callback fills (figure, table or empty state)."""
    return f"{name}-body"


def chart_graph_id(name: str) -> str:
    """Return the id of the dcc.Graph (or AgGrid) inside chart `name`."""
    return f"{name}-graph"


def csv_button_id(name: str) -> str:
    """Return the id of chart `name`'s CSV download button."""
    return f"{name}-csv"


def xlsx_button_id(name: str) -> str:
    """Return the id of chart `name`'s Excel (xlsx) download button."""
    return f"{name}-xlsx"


def csv_download_id(name: str) -> str:
    """Return the id of chart `name`'s dcc.Download."""
    return f"{name}-download"


def chart_card_id(name: str) -> str:
    """Return the id of chart `name`'s card."""
    return f"{name}-card"
