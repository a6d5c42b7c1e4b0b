"""Policies checked in an earlier run, remembered in the store so that a warm run skips the check.

Loading a policy parses its YAML, checks it against the schema, and parses, type-checks
and cost-bounds every CEL expression (:mod:`bomguard.policy.checker`,
:mod:`bomguard.policy.limits`); evaluation then finds which facts the rules read
(:mod:`bomguard.policy.usage`). All of that is a function of the policy's bytes and of
the code doing it, and it costs a run about 0.1 s of imports and work (cel-python, lark,
PyYAML) that evaluating with cel-expr-python does not otherwise need.

So an enrich run evaluating with the ``cpp`` engine keeps, for each policy that passed
every check (the load check, and compiling for that engine), an entry in the store:
the policy as loaded and what the analysis found. Its key is the SHA-256 of the policy's
bytes, the engine and the :func:`revision` of the checking code; the entry is MAC'd
under the store key like every other (:meth:`bomguard.store.Store.put`). A later run
with the same bytes, engine and code takes the policy from the entry instead of
checking it again. Hence:

- a policy that fails a check is never remembered: it is checked, and refused, in every
  run, with the same problems as without the store;
- an entry planted or edited without the store key does not authenticate: it is dropped
  with a ``WARNING: cache:`` line, and the policy is checked from scratch;
- an entry cannot be moved to another policy, engine or revision of the code (the MAC
  covers the key, and the key names all three): changed bytes, another engine or an
  upgrade of bomguard or of a library the check uses (cel-python, lark, PyYAML,
  jsonschema, jsonschema-rs, cel-expr-python, packaging) is a miss.

Runs on the ``python`` engine, and runs without a store, check every time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bomguard._installed import metadata_dirs
from bomguard.policy.model import Policy, Reference, Rule, Scope, Severity, Waiver

if TYPE_CHECKING:
    from bomguard.store import Store

__all__ = ["KIND", "Analysis", "analysis_for", "load_for_run", "revision"]

KIND = "policy-check"
"""The store entries' kind."""
ENGINE = "cpp"
"""The engine whose runs remember checked policies (it needs no parse tree to compile)."""
_BUILTIN_DEFAULT = "default-policy.yaml"
_BUILTIN_STRICT = "strict-policy.yaml"

# The code whose behaviour decides a check: every module of the policy stage (see
# revision()), the schema, the strict YAML and JSON helpers the loader uses, and the
# statuses and drift kinds the vocabulary declares.
_CHECKING_FILES = (
    "data/policy.schema.json",
    "_strict.py",
    "_strict_yaml.py",
    "_jsonschema.py",
    "_version.py",
    "errors.py",
    "models.py",
    "drift/compare.py",
)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What evaluation needs to know of a checked policy, besides the policy itself."""

    engine: str
    """The engine the policy was compiled for."""
    usage: Mapping[str, frozenset[str]] | None
    """The ``component`` facts its rules can read (:func:`bomguard.policy.usage.policy_usage`)."""
    sensitive: bool
    """Whether any component rule's cost grows with the facts' lists
    (:func:`bomguard.policy.limits.data_sensitive`)."""


_VETTED: dict[Policy, Analysis] = {}


def analysis_for(policy: Policy) -> Analysis | None:
    """The analysis of ``policy`` taken from an authentic store entry in this process, if any."""
    return _VETTED.get(policy)


@functools.cache
def revision() -> str | None:
    """A digest of the checking code: bomguard's policy modules and the other files it
    checks with (their bytes), the Python version and the installed distributions (their
    names and versions); ``None`` when those files cannot be read (bomguard run from an
    archive, say), and then nothing is remembered."""
    import bomguard

    root = Path(bomguard.__file__).parent
    digest = hashlib.sha256(sys.version.encode())
    modules = sorted((root / "policy").glob("*.py"))
    if not modules:
        return None
    for path in [*modules, *(root / f for f in _CHECKING_FILES)]:
        try:
            body = path.read_bytes()
        except OSError:
            return None
        digest.update(f"\0{path.relative_to(root)}\0{len(body)}\0".encode())
        digest.update(body)
    installed = {name for names in metadata_dirs() for name in names}
    digest.update("\0".join(["", *sorted(installed)]).encode())
    return digest.hexdigest()


def _key(raw: bytes, engine: str) -> str:
    code = revision()
    assert code is not None  # else no store is used (see _store)
    material = f"{hashlib.sha256(raw).hexdigest()}\0{engine}\0{code}"
    return hashlib.sha256(material.encode()).hexdigest()


# --- the entry ---------------------------------------------------------------------------


def _encode(policy: Policy, analysis: Analysis) -> dict[str, object]:
    return {
        "policy": {
            "name": policy.name,
            "description": policy.description,
            "owner": policy.owner,
            "sha256": policy.sha256,
            "critical": list(policy.critical),
            "critical_top": policy.critical_top,
            "references": [[r.id, r.title, r.url] for r in policy.references],
            "rules": [
                {
                    "id": r.id,
                    "require": r.require,
                    "when": r.when,
                    "description": r.description,
                    "severity": r.severity.value,
                    "message": r.message,
                    "scope": r.scope.value,
                    "references": list(r.references),
                }
                for r in policy.rules
            ],
            "waivers": [
                {
                    "rule": w.rule,
                    "reason": w.reason,
                    "approver": w.approver,
                    "expires": w.expires.isoformat(),
                    "purl": w.purl,
                    "name": w.name,
                    "index": w.index,
                }
                for w in policy.waivers
            ],
        },
        "engine": analysis.engine,
        "usage": (
            None
            if analysis.usage is None
            else {path: sorted(names) for path, names in sorted(analysis.usage.items())}
        ),
        "sensitive": analysis.sensitive,
    }


def _decode(fields: Mapping[str, Any], where: str, sha256: str) -> tuple[Policy, Analysis]:
    """The policy and analysis of an authentic entry (raises on anything unexpected)."""
    data = fields["policy"]
    policy = Policy(
        name=_text(data["name"]),
        rules=tuple(
            Rule(
                id=_text(r["id"]),
                require=_text(r["require"]),
                when=_optional(r["when"]),
                description=_text(r["description"]),
                severity=Severity(r["severity"]),
                message=_optional(r["message"]),
                scope=Scope(r["scope"]),
                references=tuple(_text(x) for x in r["references"]),
            )
            for r in data["rules"]
        ),
        critical=tuple(_text(n) for n in data["critical"]),
        critical_top=_count(data["critical_top"]),
        description=_text(data["description"]),
        path=where,
        sha256=_text(data["sha256"]),
        owner=_text(data["owner"]),
        references=tuple(Reference(_text(i), _text(t), _text(u)) for i, t, u in data["references"]),
        waivers=tuple(
            Waiver(
                rule=_text(w["rule"]),
                reason=_text(w["reason"]),
                approver=_text(w["approver"]),
                expires=dt.date.fromisoformat(w["expires"]),
                purl=_optional(w["purl"]),
                name=_optional(w["name"]),
                index=_integer(w["index"]),
            )
            for w in data["waivers"]
        ),
    )
    if policy.sha256 != sha256 or fields["engine"] != ENGINE:
        raise ValueError("the entry is not this policy's")
    usage = fields["usage"]
    sensitive = fields["sensitive"]
    if not isinstance(sensitive, bool):
        raise TypeError("sensitive")
    analysis = Analysis(
        engine=ENGINE,
        usage=(
            None
            if usage is None
            else {_text(p): frozenset(_text(n) for n in names) for p, names in usage.items()}
        ),
        sensitive=sensitive,
    )
    return policy, analysis


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _optional(value: object) -> str | None:
    return None if value is None else _text(value)


def _count(value: object) -> int | None:
    return None if value is None else _integer(value)


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


# --- loading -----------------------------------------------------------------------------


def _analyse(policy: Policy) -> Analysis | None:
    """The analysis of a policy that loaded, once it also compiles for :data:`ENGINE`
    (``None`` when it does not: evaluation then refuses it, as without the store)."""
    from bomguard.policy import evaluation
    from bomguard.policy.cel_engines import get_engine

    try:
        engine = get_engine(ENGINE)
        evaluation.compile_policy(policy, engine)
    except Exception:  # e.g. InputError: evaluation reports it, as without the store
        return None
    return Analysis(ENGINE, evaluation.usage_of(policy), evaluation.measures(policy))


class _Remembered:
    """Load policies through the store: an authentic entry, else the full check."""

    def __init__(self, store: Store, tampered: Callable[[str], None]) -> None:
        self.store = store
        self.tampered = tampered

    def load(self, raw: bytes, where: str) -> Policy:
        key = _key(raw, ENGINE)
        sha256 = hashlib.sha256(raw).hexdigest()
        found = None
        with contextlib.suppress(Exception):  # an unreadable store is a miss
            found = self.store.get(
                KIND, key, f"the remembered check of {where}", self.tampered, "checked"
            )
        if found is not None:
            with contextlib.suppress(Exception):  # not in the shape written: checked again
                policy, analysis = _decode(found[0], where, sha256)
                _VETTED[policy] = analysis
                return policy
        from bomguard.policy import loader
        from bomguard.policy.problems import PolicyProblems

        loaded, problems, _ = loader._load(raw, where)
        if problems:
            raise PolicyProblems(problems)
        assert loaded is not None
        checked = _analyse(loaded)
        if checked is not None:
            _VETTED[loaded] = checked
            with contextlib.suppress(Exception):  # a cache only: never a reason to fail
                self.store.put(KIND, key, _encode(loaded, checked), None)
        return loaded


def _read(path: Path) -> bytes:
    """The policy file's bytes (the loader, imported only then, says why it cannot be read)."""
    try:
        return path.read_bytes()
    except OSError:
        from bomguard.policy import loader

        return loader._read(path)


def _store(engine: str | None, location: str | None) -> Store | None:
    """The store to remember checks in, for a run on ``engine`` (``None`` for none)."""
    from bomguard.policy.cel_engines import resolved_name

    if location is None or resolved_name(engine) != ENGINE or revision() is None:
        return None
    from bomguard.store import shared_store

    try:
        return shared_store(location)
    except Exception:  # the run reports it where it opens the store to fetch
        return None


def load_for_run(
    paths: Sequence[Path],
    *,
    strict: bool = False,
    engine: str | None = None,
    location: str | None = None,
    tampered: Callable[[str], None] | None = None,
) -> list[Policy]:
    """The policies of an enrich run: those at ``paths`` (none: the built-in default
    policy) and, with ``strict``, the strict one; loaded as
    :func:`~bomguard.policy.load_policies` and :func:`~bomguard.policy.default_policy`
    load them (same problems, same errors), through the store at ``location`` when the
    run evaluates with the ``cpp`` ``engine``.
    """
    store = _store(engine, location)
    if store is None:
        from bomguard.policy import loader

        policies = list(loader.load_policies(paths)) if paths else [loader.default_policy()]
        if strict:
            policies.append(loader.strict_policy())
        return policies
    from bomguard.policy._schema import read_data
    from bomguard.policy.evaluation import check_set
    from bomguard.policy.problems import PolicyProblems

    remembered = _Remembered(store, tampered or (lambda _: None))
    if paths:
        policies = [remembered.load(_read(Path(p)), str(Path(p))) for p in paths]
        problems = check_set(policies)
        if problems:
            raise PolicyProblems(problems)
    else:
        policies = [remembered.load(read_data(_BUILTIN_DEFAULT), f"builtin:{_BUILTIN_DEFAULT}")]
    if strict:
        policies.append(remembered.load(read_data(_BUILTIN_STRICT), f"builtin:{_BUILTIN_STRICT}"))
    return policies
