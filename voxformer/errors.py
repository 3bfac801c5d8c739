"""User-facing errors: the ``voxformer`` command prints them as one line, without a traceback."""


class VoxformerError(Exception):
    """A problem with the user's input (a file, a config, a flag) whose message says what to do."""
