"""User-facing errors: the ``voxformer`` command prints them as one line, without a traceback."""


class VoxformerError(Exception):
    """A problem with the user's input (a file, a config, a flag) whose message says what to do."""


class ConfigError(VoxformerError, ValueError):
    """A config value that cannot be built: an unknown type, an unknown or missing option, a grid or
    a shape that does not fit. Also a ``ValueError``, the type these checks raised before."""


class VoxformerWarning(UserWarning):
    """Something the user should know about their input that does not stop the command; the ``voxformer``
    command prints it as one line, ``voxformer <command>: warning: <message>``."""
