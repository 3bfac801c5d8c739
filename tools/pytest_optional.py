"""A pytest plugin: a test module whose import fails only because an optional package is not installed
is reported as skipped (with the package's name) instead of as a collection error.

    python -m pytest -p tools.pytest_optional [--optional-package NAME ...] ...

The optional packages are OPTIONAL plus every ``--optional-package``; a module that misses any other
package still errors. Run from the repository root (``python -m pytest`` puts it on ``sys.path``).
"""

from __future__ import annotations

import pytest

OPTIONAL = ("mmengine", "spconv", "cumm", "open3d")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--optional-package",
        action="append",
        default=[],
        metavar="NAME",
        help="a package whose absence skips the test modules that import it (besides " + ", ".join(OPTIONAL) + ")",
    )


class OptionalImportModule(pytest.Module):
    """A test module that turns a missing optional package into a module-level skip."""

    def _getobj(self):
        try:
            return super()._getobj()
        except pytest.Collector.CollectError as error:
            cause = error.__cause__
            package = (getattr(cause, "name", None) or "").split(".")[0]
            optional = (*OPTIONAL, *self.config.getoption("optional_package"))
            if not (isinstance(cause, ModuleNotFoundError) and package in optional):
                raise
            reason = f"{self.nodeid} needs {package}, which is not installed"
            raise pytest.skip.Exception(reason, allow_module_level=True) from None


def pytest_pycollect_makemodule(module_path, parent):
    return OptionalImportModule.from_parent(parent, path=module_path)
