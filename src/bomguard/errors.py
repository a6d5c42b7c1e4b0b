"""The exception roots. The CLI catches only these.

``InputError`` (exit 2) is bad input or usage: a file that does not parse, a field of the
wrong type, a policy that does not compile. ``OperationalError`` (exit 3) is a failure of
the world that prevented a verdict: the trust root could not be loaded or refreshed.

Per-component failures (network errors, bad signatures) are never exceptions: they are
:class:`bomguard.models.Status` values with a reason.
"""

from __future__ import annotations

__all__ = ["BomguardError", "InputError", "OperationalError", "describe"]


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


def describe(err: BaseException) -> str:
    """``Type: message`` for ``err``, never with an empty message.

    A wrapping exception often says nothing itself (``SlowRetrievalError()`` raised from
    a DNS failure): the message is then taken from the first exception down its
    ``__cause__``/``__context__`` chain that has one, and that exception's type is named
    too: ``SlowRetrievalError: ConnectError: [Errno -2] Name or service not known``.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip()
        if text:
            if current is err:
                return f"{type(err).__name__}: {text}"
            return f"{type(err).__name__}: {type(current).__name__}: {text}"
        current = current.__cause__ or current.__context__
    return type(err).__name__
