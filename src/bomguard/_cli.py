"""Kept for installed ``bomguard`` scripts that still name ``bomguard._cli:main``.

The command line lives in :mod:`bomguard.cli`, one module per command.
"""

from __future__ import annotations

from bomguard.cli import cli, main

__all__ = ["cli", "main"]
