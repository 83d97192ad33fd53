"""The one exception type a user can cause; the CLI prints it in one line."""


class FaceswapError(Exception):
    """A problem with the user's input or workspace, with a message saying what to do."""
