"""What a CEL rule can use: the declared variables and functions, with their types.

One source of truth for the checker (:mod:`bomguard.policy.checker`), for policy test
cases (facts given in a test file are checked against these types) and for
``bomguard policy explain``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bomguard.drift.compare import EVENT_KINDS
from bomguard.models import Status
from bomguard.policy.model import Scope

__all__ = [
    "BOOL",
    "DOUBLE",
    "DYN",
    "FUNCTIONS",
    "INT",
    "STRING",
    "TIMESTAMP",
    "VARIABLES",
    "CelType",
    "Field",
    "Function",
    "Variable",
    "variables_for",
]


@dataclass(frozen=True, slots=True)
class Field:
    """A named, typed and documented member of an object type."""

    name: str
    type: CelType
    doc: str


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type as far as the checker follows it.

    ``kind`` is a CEL type name (``bool``, ``int``, ``uint``, ``double``, ``string``,
    ``bytes``, ``null``, ``timestamp``, ``duration``, ``list``, ``map``, ``type``), ``dyn``
    for "not known until evaluation", or ``object`` for a map with a fixed set of keys
    (``fields``), which is how ``component`` and ``sbom`` are declared.
    """

    kind: str
    elem: CelType | None = None
    """The element type of a list, the value type of a map."""
    key: CelType | None = None
    """The key type of a map."""
    fields: tuple[Field, ...] = ()
    path: str = ""
    """For an object: where it sits, e.g. ``component.provenance``."""
    nullable: bool = False
    """Whether the value may be ``null`` at run time (a fact the SBOM does not give)."""

    def field(self, name: str) -> Field | None:
        """The field called ``name`` of an object type, if any."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def known(self) -> bool:
        """Whether the type is known before evaluation (not ``dyn``)."""
        return self.kind != "dyn"

    @property
    def runtime(self) -> str:
        """The kind evaluation sees: an object is a map at run time."""
        return "map" if self.kind == "object" else self.kind

    def __str__(self) -> str:
        if self.nullable:
            return f"{self.kind} or null"
        if self.kind == "list":
            return f"list({self.elem})"
        if self.kind == "map":
            return f"map({self.key}, {self.elem})"
        if self.kind == "object":
            return "object"
        return self.kind


DYN = CelType("dyn")
BOOL = CelType("bool")
INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
STRING = CelType("string")
BYTES = CelType("bytes")
NULL = CelType("null")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
TYPE = CelType("type")


def list_of(elem: CelType) -> CelType:
    """``list(elem)``."""
    return CelType("list", elem=elem)


def map_of(key: CelType, value: CelType) -> CelType:
    """``map(key, value)``."""
    return CelType("map", elem=value, key=key)


def nullable(kind: CelType) -> CelType:
    """``kind``, or ``null`` when the fact is not known."""
    return CelType(kind.kind, kind.elem, kind.key, kind.fields, kind.path, nullable=True)


def _object(path: str, *fields: tuple[str, CelType, str]) -> CelType:
    return CelType("object", fields=tuple(Field(n, t, d) for n, t, d in fields), path=path)


_STATUSES = ", ".join(s.value for s in Status)


def _publisher(path: str) -> CelType:
    return _object(
        path,
        ("kind", STRING, 'Trusted Publisher kind, e.g. "GitHub", "GitLab"'),
        ("repository", STRING, 'repository slug, e.g. "pypa/sampleproject"'),
        ("workflow", STRING, 'workflow file (GitHub) or CI file path (GitLab), e.g. "release.yml"'),
        ("environment", STRING, "deployment environment the index claims (not in the certificate)"),
        ("issuer", STRING, "OIDC issuer of the signing certificate"),
        ("ref", STRING, 'git ref that was built, e.g. "refs/tags/v1.0"'),
        ("commit", STRING, "git commit that was built"),
        ("trigger", STRING, 'event that started the build, e.g. "push"'),
        ("runner_environment", STRING, '"github-hosted" or "self-hosted"'),
        ("repository_uri", STRING, "source repository URI from the certificate"),
        ("repository_id", STRING, "numeric source repository ID from the certificate"),
        ("owner_id", STRING, "numeric repository owner ID from the certificate"),
        ("san", STRING, "the certificate's identity: workflow URI, e-mail or pipeline URI"),
    )


_DRIFT_EVENT = _object(
    "component.drift.events[]",
    ("kind", STRING, 'event kind, e.g. "workflow-changed"'),
    ("before", STRING, "the expected value"),
    ("after", STRING, "this release's value"),
    (
        "source",
        STRING,
        '"previous-release", "baseline", "pin", "store" (the store\'s identity history) '
        'or "release" (the release itself)',
    ),
    ("since", STRING, "the version, baseline file or pin file expected from"),
    ("asserted_by_index", BOOL, "true when the fact is only the index's word (environment)"),
)

_DRIFT = _object(
    "component.drift",
    (
        "checked",
        BOOL,
        "whether an expectation (earlier release, baseline, pin) was compared and none "
        "that applied failed to be",
    ),
    (
        "unchecked",
        list_of(STRING),
        "expectations that applied but could not be compared, each with the reason",
    ),
    ("count", INT, "number of drift events"),
    ("kinds", list_of(STRING), "the distinct event kinds, sorted"),
    ("events", list_of(_DRIFT_EVENT), "every drift event"),
    *((kind.replace("-", "_"), BOOL, f"whether a {kind} event was raised") for kind in EVENT_KINDS),
)

_CHANGE = _object(
    "component.change",
    (
        "kind",
        STRING,
        '"added", "upgraded" or "downgraded": the releases bomguard diff and bomguard '
        'upgrades judge; "" elsewhere',
    ),
    ("from", STRING, 'the version the base had, or "" (added, or not a review)'),
    ("to", STRING, 'the version the change brings, or ""'),
    (
        "from_status",
        STRING,
        'the provenance status of the base version (recorded or verified), or ""',
    ),
    (
        "attestation",
        STRING,
        '"kept", "gained", "lost", "none" (neither attested) or "unknown" (a side could '
        'not be determined); "" when nothing was compared',
    ),
    (
        "compared",
        BOOL,
        "whether this release's identities were compared with the base version's "
        "(false: the base was not verified, or nothing to compare)",
    ),
    ("count", INT, "number of identity events against the base version"),
    ("kinds", list_of(STRING), "the distinct event kinds, sorted"),
    (
        "events",
        list_of(
            _object(
                "component.change.events[]", *((f.name, f.type, f.doc) for f in _DRIFT_EVENT.fields)
            )
        ),
        "identity events against the base version (the same shapes as drift events)",
    ),
)


_FILE = _object(
    "component.provenance.files[]",
    ("filename", STRING, "distribution file name"),
    ("sha256", STRING, 'hex SHA-256 of the file, or ""'),
    ("status", STRING, f"this file's provenance status: {_STATUSES}"),
    ("reason", STRING, 'why the status is not "verified", or ""'),
    ("code", STRING, 'the reason\'s stable code (docs/enrichment.md), or ""'),
    (
        "digest_source",
        STRING,
        'what gave the sha256 the provenance was checked against: "downloaded", "sbom" or '
        '"index"; "" when no provenance was checked',
    ),
    ("publisher", _publisher("component.provenance.files[].publisher"), "the file's signer"),
)

_GRAPH = _object(
    "component.graph",
    ("known", BOOL, "whether the SBOM states a dependency graph (when false, every fact is null)"),
    (
        "direct",
        nullable(BOOL),
        "a dependency of the root (without a root: of the top level, what nothing depends on)",
    ),
    ("depth", nullable(INT), "fewest edges from the root (root 0, direct 1); null if unreached"),
    (
        "dependents",
        nullable(INT),
        "how many components reach this one, directly or transitively (the root not counted)",
    ),
    ("paths", list_of(STRING), 'up to 3 shortest paths from the root, e.g. "app > web > this"'),
    (
        "scope",
        nullable(STRING),
        "runtime, optional, provided, build, test, dev or excluded, where the SBOM says so",
    ),
    ("requires", list_of(STRING), "every component this one reaches: PEP 503 names and purls"),
    ("required_by", list_of(STRING), "every component that reaches this one: names and purls"),
)

_UNATTESTED = _object(
    "sbom.graph.unattested[]",
    ("name", STRING, "component name"),
    ("version", STRING, 'version, or ""'),
    ("purl", STRING, 'package URL, or ""'),
    ("status", STRING, "its provenance status (anything but verified)"),
    ("dependents", INT, "how many components reach it"),
    ("direct", BOOL, "a direct dependency"),
    ("path", STRING, 'the first shortest path from the root, or ""'),
)

COMPONENT = _object(
    "component",
    ("name", STRING, "name as the SBOM gives it"),
    (
        "normalized_name",
        STRING,
        "PEP 503-normalised name (what `critical` lists are compared with)",
    ),
    ("version", STRING, 'version as the SBOM gives it, or ""'),
    ("purl", STRING, 'package URL, or ""'),
    ("bom_ref", STRING, 'the SBOM\'s bom-ref, or ""'),
    ("type", STRING, 'CycloneDX component type, e.g. "library", or ""'),
    ("group", STRING, 'CycloneDX group, or ""'),
    ("scope", STRING, 'CycloneDX scope ("required", "optional", "excluded"), or ""'),
    ("licenses", list_of(STRING), "license ids or names"),
    ("properties", map_of(STRING, STRING), "the component's SBOM properties, name to value"),
    ("pypi", BOOL, "whether this is a PyPI package (a pkg:pypi purl)"),
    (
        "critical",
        BOOL,
        "whether the evaluating policy's `critical` names this package, or its `top` ranks it",
    ),
    ("rank", nullable(INT), "PyPI download rank (1 = most downloaded); null when not ranked"),
    ("graph", _GRAPH, "where the component sits in the SBOM's dependency graph"),
    (
        "provenance",
        _object(
            "component.provenance",
            ("status", STRING, f"the component's provenance status: {_STATUSES}"),
            ("reason", STRING, 'why the status is not "verified", or ""'),
            (
                "code",
                STRING,
                'the reason\'s stable code, e.g. "publisher-mismatch" (docs/enrichment.md), or ""',
            ),
            (
                "publisher",
                _publisher("component.provenance.publisher"),
                "the first verified file's signer (empty strings when none)",
            ),
            ("files", list_of(_FILE), "every distribution file judged"),
            ("verified_files", INT, "how many files are verified"),
            ("total_files", INT, "how many files were judged"),
        ),
        "PEP 740 provenance, verified",
    ),
    ("drift", _DRIFT, "identity drift against earlier releases, a baseline and pins"),
    ("change", _CHANGE, "what a reviewed dependency change did to this package (diff, upgrades)"),
)

SBOM = _object(
    "sbom",
    ("components", INT, "components judged (each counted once)"),
    ("pypi", INT, 'PyPI components: those whose status is not "not-applicable"'),
    ("critical", INT, "PyPI components the evaluating policy lists as critical"),
    (
        "counts",
        _object(
            "sbom.counts",
            *((s.value, INT, f'components whose status is "{s.value}"') for s in Status),
        ),
        'components per provenance status; write sbom.counts["not-applicable"] for that one',
    ),
    (
        "coverage",
        _object(
            "sbom.coverage",
            (
                "overall",
                DOUBLE,
                "verified PyPI components / PyPI components; 1.0 when there are none",
            ),
            (
                "critical",
                DOUBLE,
                "verified critical PyPI components / critical PyPI components; 1.0 when none",
            ),
        ),
        "fractions from 0.0 to 1.0 (always doubles: compare with 1.0, not 1)",
    ),
    (
        "graph",
        _object(
            "sbom.graph",
            ("known", BOOL, "whether the SBOM states a dependency graph"),
            ("direct", INT, "direct PyPI dependencies"),
            ("transitive", INT, "PyPI components reached only through others (depth 2 or more)"),
            (
                "coverage",
                _object(
                    "sbom.graph.coverage",
                    (
                        "direct",
                        DOUBLE,
                        "verified direct PyPI dependencies / direct ones; 1.0 if none",
                    ),
                    ("transitive", DOUBLE, "the same over transitive ones; 1.0 if none"),
                ),
                "fractions from 0.0 to 1.0",
            ),
            (
                "unattested",
                list_of(_UNATTESTED),
                "up to 10 reached PyPI components that are not verified, most dependents first",
            ),
        ),
        "the dependency graph as a whole",
    ),
)


@dataclass(frozen=True, slots=True)
class Variable:
    """A variable CEL expressions can use, and the rule scopes that see it."""

    name: str
    type: CelType
    doc: str
    scopes: frozenset[Scope]


VARIABLES = (
    Variable(
        "component",
        COMPONENT,
        "the component being judged (component-scope rules only)",
        frozenset({Scope.COMPONENT}),
    ),
    Variable(
        "sbom",
        SBOM,
        "aggregates over the whole SBOM, as the evaluating policy sees them",
        frozenset(Scope),
    ),
    Variable(
        "now",
        TIMESTAMP,
        'the evaluation time (UTC); compare with timestamp("2026-01-01T00:00:00Z")',
        frozenset(Scope),
    ),
)


def variables_for(scope: Scope) -> dict[str, Variable]:
    """The variables a rule of ``scope`` sees, by name."""
    return {v.name: v for v in VARIABLES if scope in v.scopes}


@dataclass(frozen=True, slots=True)
class Function:
    """A function bomguard adds to CEL."""

    name: str
    params: tuple[tuple[str, CelType], ...]
    result: CelType
    doc: str
    example: str
    member: bool = False
    """Called on ``component`` (``component.name(x)``); its first parameter is the receiver."""

    @property
    def signature(self) -> str:
        """``name(a: string, b: string) -> bool`` (``component.name(a: string) -> bool``)."""
        if self.member:
            params = ", ".join(f"{n}: {t}" for n, t in self.params[1:])
            return f"{self.params[0][0]}.{self.name}({params}) -> {self.result}"
        params = ", ".join(f"{n}: {t}" for n, t in self.params)
        return f"{self.name}({params}) -> {self.result}"


FUNCTIONS = (
    Function(
        "version_matches",
        (("version", STRING), ("specifier", STRING)),
        BOOL,
        "whether a PEP 440 version is in a PEP 440 specifier set (pre-releases included); "
        "an invalid version or specifier is an evaluation error",
        'version_matches(component.version, ">=2.0,<3")',
    ),
    Function(
        "version_compare",
        (("a", STRING), ("b", STRING)),
        INT,
        "-1, 0 or 1 as PEP 440 version a is lower than, equal to or higher than b",
        'version_compare(component.version, "1.26.0") >= 0',
    ),
    Function(
        "version_valid",
        (("version", STRING),),
        BOOL,
        "whether a string is a valid PEP 440 version (guard version_* calls with it)",
        'version_valid(component.version) && version_matches(component.version, "<2")',
    ),
    Function(
        "glob",
        (("text", STRING), ("pattern", STRING)),
        BOOL,
        "shell-style match of the whole text: * any run, ? one character, [abc] a set; "
        "case-sensitive",
        'glob(component.normalized_name, "django-*")',
    ),
    Function(
        "depends_on",
        (("component", COMPONENT), ("name_or_purl", STRING)),
        BOOL,
        "whether the component reaches the named one through the dependency graph, "
        "directly or transitively (a name is compared PEP 503-normalised; a purl without "
        "its qualifiers, with or without the version); false without a graph",
        'component.depends_on("cryptography")',
        member=True,
    ),
    Function(
        "is_dependency_of",
        (("component", COMPONENT), ("name_or_purl", STRING)),
        BOOL,
        "whether the named component reaches this one through the dependency graph, "
        "directly or transitively; false without a graph",
        'component.is_dependency_of("webservice") && component.graph.scope == "runtime"',
        member=True,
    ),
)


def walk(kind: CelType, path: str) -> Iterator[tuple[str, Field]]:
    """Every field below an object type, depth first, with its dotted path."""
    for f in kind.fields:
        where = f"{path}.{f.name}"
        yield where, f
        inner = f.type.elem if f.type.kind == "list" else f.type
        if inner is not None and inner.kind == "object":
            yield from walk(inner, where + ("[]" if f.type.kind == "list" else ""))
