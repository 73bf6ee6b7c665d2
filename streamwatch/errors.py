"""The error every command turns into one line for the user."""


class CommandError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""
