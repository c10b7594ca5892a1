"""Errors that are the user's to fix: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input, a missing file, an impossible setting: anything a traceback would not help with."""
