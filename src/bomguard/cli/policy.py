"""``bomguard policy``: check, test and explain policies without an SBOM.

Exit codes: 0 everything passed · 1 a test case failed · 2 a policy or tests file has a
problem (every problem is reported, one ``file:rule:line:column: message`` line each).
The report goes to stdout; the summary line to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from bomguard.errors import InputError
from bomguard.policy.cel_engines import Engine, get_engine

__all__ = ["policy_group"]

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2

_FILES = click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
_ENGINE = click.option(
    "--cel-engine",
    "engine",
    type=click.Choice(["auto", "python", "cpp"]),
    default="python",
    show_default=True,
    help="python: cel-python; cpp: cel-expr-python (if installed); auto: cpp when installed.",
)


@click.group("policy")
def policy_group() -> None:
    """Check, test and explain CEL policies."""


def _engine(name: str) -> Engine:
    """The engine called ``name``; a missing cpp engine is a usage error (exit 2)."""
    try:
        return get_engine(name)
    except InputError as err:
        click.echo(f"bomguard: error: {err.message}", err=True)
        if err.hint:
            click.echo(f"bomguard: hint: {err.hint}", err=True)
        sys.exit(EXIT_INPUT)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@policy_group.command("check")
@_FILES
@_ENGINE
def check(files: Sequence[Path], engine: str) -> None:
    """Check policy FILES as a set: schema, CEL expressions, rule ids, waivers.

    Every problem of every file is reported, not just the first. Waivers may name rules
    of any file given, so check files that are evaluated together in one call. Tests
    files (*.tests.yaml) are skipped: 'bomguard policy test' checks them.
    """
    from bomguard.policy import check_policies

    tests = [f for f in files if f.name.endswith(".tests.yaml")]
    if tests:
        click.echo(
            f"bomguard: skipping {_plural(len(tests), 'tests file')} "
            "(run them with 'bomguard policy test')",
            err=True,
        )
        files = [f for f in files if f not in tests]
    policies, problems = check_policies(files, engine=_engine(engine))
    for problem in problems:
        click.echo(problem.render())
    if problems:
        bad = len({p.file for p in problems})
        click.echo(
            f"bomguard: {_plural(len(problems), 'problem')} in {bad} of "
            f"{_plural(len(files), 'policy file')}",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    rules = sum(len(p.rules) for p in policies)
    waivers = sum(len(p.waivers) for p in policies)
    click.echo(
        f"bomguard: {_plural(len(policies), 'policy file')} OK "
        f"({_plural(rules, 'rule')}, {_plural(waivers, 'waiver')})",
        err=True,
    )
    sys.exit(EXIT_OK)


@policy_group.command("test")
@_FILES
@_ENGINE
def test(files: Sequence[Path], engine: str) -> None:
    """Run the test cases of policy FILES (x.yaml runs x.tests.yaml beside it).

    A tests file may be given directly. Prints OK or FAIL per tests file and one line per
    expectation that did not hold.
    """
    from bomguard.policy import PolicyProblems, policy_tests_path, run_policy_tests

    runner = _engine(engine)
    unique: dict[Path, Path] = {}
    for given in files:
        unique.setdefault(policy_tests_path(given), given)
    failed = broken = cases = 0
    for path in unique.values():
        try:
            report = run_policy_tests(path, engine=runner)
        except PolicyProblems as err:
            broken += 1
            for problem in err.problems:
                click.echo(problem.render())
            continue
        except InputError as err:
            broken += 1
            click.echo(f"ERROR: {err.message}")
            continue
        cases += report.cases
        if report.passed:
            click.echo(
                f"OK: {report.path} ({_plural(report.cases, 'case')}, "
                f"{_plural(report.checks, 'expectation')})"
            )
            continue
        failed += 1
        click.echo(f"FAIL: {report.path}")
        for failure in report.failures:
            click.echo(f"  {failure}")
    click.echo(
        f"bomguard: {_plural(len(unique), 'tests file')}, {_plural(cases, 'case')}: "
        f"{failed} failed, {broken} unusable",
        err=True,
    )
    sys.exit(EXIT_INPUT if broken else EXIT_FAIL if failed else EXIT_OK)


def _explain_data() -> dict[str, Any]:
    from bomguard.policy.model import MESSAGE_FIELDS, SBOM_MESSAGE_FIELDS, Outcome
    from bomguard.policy.vocabulary import FUNCTIONS, VARIABLES, walk

    return {
        "variables": [
            {
                "name": v.name,
                "type": str(v.type),
                "scopes": sorted(s.value for s in v.scopes),
                "doc": v.doc,
                "fields": [
                    {
                        "path": path,
                        "type": str(f.type) if f.type.kind != "object" else "object",
                        "doc": f.doc,
                    }
                    for path, f in walk(v.type, v.name)
                ],
            }
            for v in VARIABLES
        ],
        "functions": [
            {
                "name": f.name,
                "signature": f.signature,
                "doc": f.doc,
                "example": f.example,
            }
            for f in FUNCTIONS
        ],
        "message_placeholders": {
            "component": list(MESSAGE_FIELDS),
            "sbom": list(SBOM_MESSAGE_FIELDS),
        },
        "outcomes": [o.value for o in Outcome],
    }


_STANDARD = (
    "Standard CEL also works: && || ! ?: == != < <= > >= in + - * / %, "
    "size(), has(), int(), double(), string(), timestamp(), duration(), "
    "s.startsWith(), s.endsWith(), s.contains(), s.matches(), "
    "and the macros all(), exists(), exists_one(), map(), filter()."
)


@policy_group.command("explain")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Human-readable text, or JSON for tools.",
)
def explain(output_format: str) -> None:
    """List the variables, fields and functions a rule can use, with their types."""
    data = _explain_data()
    if output_format == "json":
        click.echo(json.dumps(data, indent=2))
        return
    lines = ["VARIABLES", ""]
    for variable in data["variables"]:
        scopes = " and ".join(variable["scopes"])
        lines.append(f"{variable['name']}: {variable['type']}  ({scopes} scope)")
        lines.append(f"    {variable['doc']}")
        width = max((len(f["path"]) for f in variable["fields"]), default=0)
        type_width = max((len(f["type"]) for f in variable["fields"]), default=0)
        for field in variable["fields"]:
            lines.append(
                f"  {field['path']:<{width}}  {field['type']:<{type_width}}  {field['doc']}"
            )
        lines.append("")
    lines += ["FUNCTIONS", ""]
    for function in data["functions"]:
        lines.append(function["signature"])
        lines.append(f"    {function['doc']}")
        lines.append(f"    e.g. {function['example']}")
        lines.append("")
    lines.append(_STANDARD)
    lines += ["", "MESSAGE PLACEHOLDERS", ""]
    for scope, fields in data["message_placeholders"].items():
        lines.append(f"  {scope} scope: " + " ".join(f"{{{f}}}" for f in fields))
    lines += ["", "OUTCOMES: " + ", ".join(data["outcomes"])]
    click.echo("\n".join(lines))
