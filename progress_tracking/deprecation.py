"""Names that moved to another module keep working there for one minor release, with a
``DeprecationWarning`` that names their new home.

A module that lost names ends with::

    if not TYPE_CHECKING:  # so that mypy still reports a misspelt attribute of the module
        __getattr__ = moved_names(__name__, {"old_name": "progress_tracking.new_home"})
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def moved_names(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` answering each moved name from its new home, with a warning."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} is deprecated; import it from {home}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), name)

    return __getattr__
