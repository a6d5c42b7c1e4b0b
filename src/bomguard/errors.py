"""The exception roots. The CLI catches only these.

``InputError`` (exit 2) is bad input or usage: a file that does not parse, a field of the
wrong type, a policy that does not compile. ``OperationalError`` (exit 3) is a failure of
the world that prevented a verdict: the trust root could not be loaded or refreshed.

Per-component failures (network errors, bad signatures) are never exceptions: they are
:class:`bomguard.models.Status` values with a reason.
"""

from __future__ import annotations

__all__ = ["BomguardError", "InputError", "OperationalError"]


class BomguardError(Exception):
    """Root of every error bomguard raises on purpose."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(BomguardError):
    """Bad input or usage: names the file and the field. Exit code 2."""

    exit_code = 2


class OperationalError(BomguardError):
    """A failure that prevented a verdict (trust root, output file). Exit code 3."""

    exit_code = 3
