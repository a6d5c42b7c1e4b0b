"""Import httpx without its command-line client.

``import httpx`` also imports ``httpx._main`` (the ``httpx`` command: click, rich and
pygments) whenever those are installed, about a quarter of a second of every run that
looks anything up, for a command bomguard never runs. httpx falls back to a stub ``main``
when ``httpx._main`` cannot be imported, so it is imported here as if it could not be.
When something else imported httpx first, that module is used as it is. Importing this
module does it; the index client imports it when it builds its HTTP client (a
``--mirror`` run never does), before anything else that imports httpx.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["load"]


def load() -> ModuleType:
    """The ``httpx`` module."""
    if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
        try:
            return importlib.import_module("httpx")
        finally:
            del sys.modules["httpx._main"]
    return importlib.import_module("httpx")


load()
