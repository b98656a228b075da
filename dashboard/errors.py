"""Errors the CLI turns into exit code 2 with a one-line reason."""


class BadInput(Exception):
    """Input the user must fix (a file, an argument): reported on one line, exit code 2."""
