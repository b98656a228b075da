"""Component ids of the app shell, declared once."""


class ShellIds:
    """Ids of the components every page shares."""

    URL = "url"
    PAGE = "page-content"
    NAVBAR = "navbar"
