class UserError(Exception):
    """The input was at fault (unknown model, bad option): the controller exits 2 with this message."""
