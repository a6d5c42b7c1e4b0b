"""A problem with a policy: which file, which key, what is wrong, and (when known) where."""

from __future__ import annotations

from dataclasses import dataclass

from bomguard.errors import InputError

__all__ = ["ExpressionProblem", "PolicyProblems", "Problem"]


@dataclass(frozen=True, slots=True)
class ExpressionProblem:
    """One problem of a CEL expression, at a 0-based character offset into its text."""

    offset: int
    message: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found while loading or checking a policy.

    ``str(problem)`` is the one-line form :class:`InputError` carries
    (``x.yaml: rules[1].require: syntax error at column 12: unexpected '='``);
    :meth:`render` is the ``file:rule:line:column: message`` form ``bomguard policy check``
    prints.
    """

    file: str
    key: str
    """Key path in the document, e.g. ``rules[1].require``; ``""`` for the whole file."""
    message: str
    rule: str = ""
    """The id of the rule the problem is in, when it is in one."""
    at: tuple[str | int, ...] = ()
    """Where to point in the document (may go deeper than ``key``, e.g. to an unknown key)."""
    offset: int | None = None
    """For a problem inside an expression: the 0-based character offset into it."""
    on_key: bool = False
    """Point at the key of the last part of ``at`` (an unknown key), not at its value."""
    line: int | None = None
    """1-based line in the file, once located."""
    column: int | None = None

    def __str__(self) -> str:
        return (
            f"{self.file}: {self.key}: {self.message}"
            if self.key
            else (f"{self.file}: {self.message}")
        )

    def render(self) -> str:
        """``file:rule:line:column: message``; the rule slot holds the key path outside rules."""
        inner = self.key
        if self.rule and inner.startswith("rules["):
            inner = inner.partition("]")[2].lstrip(".")
        slot = self.rule or self.key or "-"
        message = f"{inner}: {self.message}" if self.rule and inner else self.message
        where = f"{self.line}:{self.column}" if self.line is not None else "-"
        message = message.removeprefix(f"line {self.line}, column {self.column}: ")
        return f"{self.file}:{slot}:{where}: {message}"

    def error(self) -> InputError:
        """The problem as the exception library calls raise."""
        return InputError(str(self))


class PolicyProblems(InputError):
    """Several problems at once; the message is the first, ``problems`` has them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems
