"""The library entry point: read → resolve → fetch → verify → enrich → policy.

>>> from pathlib import Path
>>> import bomguard
>>> options = bomguard.EnrichOptions(trust_root="embedded")
>>> result = bomguard.enrich(Path("app.cdx.json"), options)                 # doctest: +SKIP
>>> result.verdict.verdict, result.document.serialize()                     # doctest: +SKIP

No printing, no exits: problems are raised as :mod:`bomguard.errors` exceptions (input
and operational errors) or recorded as statuses (everything per component).
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bomguard._memory import LongLived, collector_paused, give_back
from bomguard._spool import ProvenanceSpool
from bomguard.criticality import RankSnapshot, load_snapshot
from bomguard.drift import Expectation, assess, load_baseline, load_pins
from bomguard.errors import InputError
from bomguard.index import (
    FetchedFile,
    FetchState,
    IndexOptions,
    ReleaseFetch,
    ReleaseRequest,
    fetch_mirror,
    fetch_releases,
    redact_url,
    store_location,
)
from bomguard.models import (
    Component,
    ComponentEvidence,
    DigestSource,
    DriftSource,
    FileEvidence,
    Status,
    summarize,
)
from bomguard.policy import Policy, Verdict, evaluate
from bomguard.policy.vetted import load_for_run
from bomguard.sbom import SbomDocument, read_sbom
from bomguard.sbom.graph import DependencyGraph, build_graph
from bomguard.sbom.properties import addition_for, with_graph
from bomguard.verify import FileVerdict, TrustRoot
from bomguard.verify.batch import VerifyJob, VerifyStream
from bomguard.verify.trust import read_trust_root

__all__ = [
    "EnrichOptions",
    "EnrichResult",
    "enrich",
    "evidence_for",
    "fetch",
    "fetch_and_verify",
    "request_for",
]

Observer = Callable[[str, str], None]
"""Progress callback ``(event, detail)``: ``page``, ``provenance``, ``download``, ``retry``,
``verify``, ``cache-tampered`` (a dropped cache entry; the detail is a sentence) and
``store-unwritten`` (the run could not be recorded in the store; a sentence)."""


@dataclass(frozen=True)
class EnrichOptions:
    """Everything :func:`enrich` needs besides the SBOM."""

    policies: Sequence[Path] = ()
    index: IndexOptions = field(default_factory=IndexOptions)
    trust_root: str = "tuf"
    """``tuf`` (refresh online), ``embedded`` (shipped with sigstore), or a file path."""
    staging: bool = False
    strict: bool = False
    """Also fail on ``unknown`` provenance (adds the built-in strict rule)."""
    workers: int | None = None
    """Processes to verify with (default: one per core; small batches stay in-process)."""
    drift_depth: int = 1
    """Compare each release with this many earlier releases on the index (0: off)."""
    baseline: Path | None = None
    """An SBOM bomguard enriched earlier: its recorded identities are expected again."""
    pins: Path | None = None
    """A ``pylock.toml`` with attestation identities, or a bomguard pin file."""
    input_format: str | None = None
    """Override format detection (``cyclonedx-json``, ``spdx-tagvalue``, ...)."""
    now: datetime.datetime | None = None
    """The time policies see as ``now`` and waivers expire against (default: the clock)."""
    cel_engine: str = "auto"
    """``auto`` (cel-expr-python when installed, else cel-python), ``python`` or ``cpp``."""
    embed_evidence: bool | None = None
    """Embed each provenance object in CycloneDX 1.6+ ``declarations`` (``None``: yes
    where the format has declarations). Without it the evidence links to the index."""
    store_history: bool = True
    """Record verified identities in the store, and expect the identity the store has seen
    for a project again (the ``store`` drift source, when the store holds history)."""


@dataclass
class EnrichResult:
    """The enriched document, the facts behind it, and the verdict."""

    document: SbomDocument
    components: list[Component]
    evidence: dict[str, ComponentEvidence | None]
    """Per component locator; ``None`` for components that are not PyPI packages."""
    verdict: Verdict
    policies: Sequence[Policy]
    trust_root: TrustRoot | None
    evaluated_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )
    graph: DependencyGraph | None = None
    """The SBOM's dependency graph (``None``: the SBOM states none)."""
    ranks: RankSnapshot | None = None
    """The download-rank snapshot that judged criticality."""


def _recorded_time(moment: datetime.datetime) -> datetime.datetime:
    """The time written into the SBOM: ``SOURCE_DATE_EPOCH`` when set (reproducible output)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch.isdigit() else moment


def _norm_index(url: str) -> str:
    return url.rstrip("/") + "/"


def request_for(
    component: Component, options: EnrichOptions
) -> ReleaseRequest | ComponentEvidence | None:
    """The release to fetch for a component, or its evidence when none can be fetched."""
    if component.pypi is None:
        if component.pypi_error:
            return ComponentEvidence(Status.UNKNOWN, component.pypi_error)
        return None
    ref = component.pypi
    if ref.version is None:
        return ComponentEvidence(Status.UNKNOWN, "no version")
    if ref.version_error:
        return ComponentEvidence(Status.UNKNOWN, ref.version_error)
    index_url = None
    if ref.repository_url:
        indexes = (options.index.index_url, *options.index.extra_index_urls)
        allowed = {_norm_index(u) for u in indexes}
        if _norm_index(ref.repository_url) not in allowed:
            return ComponentEvidence(
                Status.UNKNOWN,
                f"the purl names another index ({redact_url(ref.repository_url)}); "
                "allow it with --extra-index-url to look it up",
            )
        if _norm_index(ref.repository_url) != _norm_index(options.index.index_url):
            index_url = ref.repository_url
    refs = frozenset((r.filename, r.sha256) for r in component.dist_refs)
    return ReleaseRequest(ref.name, ref.version, refs, index_url)


def _file_evidence(
    fetched: FetchedFile,
    verdicts: dict[tuple[str, str | None, bytes | None], FileVerdict],
    keep: bool = False,
) -> FileEvidence:
    base = FileEvidence(
        filename=fetched.filename,
        sha256=fetched.sha256,
        status=Status.UNKNOWN,
        reason=fetched.reason,
        url=fetched.url,
        provenance_url=fetched.provenance_url,
    )
    if fetched.state is FetchState.ABSENT:
        return replace(base, status=Status.ABSENT)
    if fetched.state is FetchState.CONFLICT:
        return replace(base, status=Status.INVALID)
    if fetched.state is not FetchState.PRESENT or fetched.provenance is None:
        return base
    verdict = verdicts.get((fetched.filename, fetched.sha256, fetched.provenance))
    if verdict is None:  # pragma: no cover - every present file was verified
        return replace(base, reason="not verified")
    status, reason, results, identity = verdict
    return replace(
        base,
        status=status,
        reason=reason,
        digest_source=fetched_digest_source(fetched),
        attestations=results,
        identity=identity,
        provenance=fetched.provenance if keep else None,
        provenance_sha256=hashlib.sha256(fetched.provenance).hexdigest(),
    )


def fetched_digest_source(fetched: FetchedFile) -> DigestSource:
    """Which independent source bound the file's digest (downloaded bytes, then the SBOM)."""
    if fetched.downloaded:
        return DigestSource.DOWNLOADED
    return DigestSource.SBOM if fetched.sbom_sha256 else DigestSource.INDEX


def _job(f: FetchedFile) -> VerifyJob:
    return VerifyJob(f.provenance or b"", f.filename, f.sha256, fetched_digest_source(f))


def _present(fetch: ReleaseFetch) -> list[FetchedFile]:
    return [f for f in fetch.files if f.state is FetchState.PRESENT and f.provenance is not None]


def _verify_all(
    fetched: dict[ReleaseRequest, ReleaseFetch], stream: VerifyStream
) -> dict[tuple[str, str | None, bytes | None], FileVerdict]:
    present = {
        (f.filename, f.sha256, f.provenance): f
        for release in fetched.values()
        for f in _present(release)
    }
    verdicts = stream.finish([_job(f) for f in present.values()])
    return dict(zip(present, verdicts, strict=True))


def evidence_for(
    fetch: ReleaseFetch,
    verdicts: dict[tuple[str, str | None, bytes | None], FileVerdict],
    keep: bool = False,
) -> ComponentEvidence:
    """Sum a fetched release's files up into a component's evidence.

    ``keep`` keeps each file's provenance bytes (to embed them in the SBOM).
    """
    if fetch.error is not None:
        return ComponentEvidence(Status.UNKNOWN, fetch.error, index_url=fetch.index_url)
    files = tuple(_file_evidence(f, verdicts, keep) for f in fetch.files)
    status, reason = summarize(files)
    return ComponentEvidence(status, reason, files, index_url=fetch.index_url)


Verdicts = dict[tuple[str, str | None, bytes | None], FileVerdict]
"""Each verified file's verdict, by ``(filename, sha256, provenance bytes)``."""


def fetch_and_verify(
    requests: Sequence[ReleaseRequest],
    options: EnrichOptions,
    observer: Observer | None = None,
    follow: Callable[[ReleaseFetch], list[ReleaseRequest]] | None = None,
) -> tuple[dict[ReleaseRequest, ReleaseFetch], Verdicts, TrustRoot | None]:
    """Fetch ``requests`` (and what ``follow`` names) and verify every provenance object.

    The fetch and verify stages every command shares: verification starts while the rest
    is still being fetched. With no request, nothing is loaded (not even the trust root).
    """
    if not requests:
        return {}, {}, None
    from bomguard.verify.rootcheck import ensure_parses
    from bomguard.warm import results_location, uncached_releases

    results = results_location(options.index)

    def done(filename: str) -> None:
        if observer is not None:
            observer("verify", filename)

    def tampered(detail: str) -> None:
        if observer is not None:
            observer("cache-tampered", detail)

    trust_root = read_trust_root(options.trust_root, staging=options.staging)
    ensure_parses(trust_root, results, tampered)  # parsed unless the store says it parses
    stream = VerifyStream(
        trust_root,
        # About 3 files a release (fewer when the SBOM names them), counting only the
        # releases the store cannot answer: a warm run starts no worker pool.
        expected=uncached_releases(requests, options.index) * 2,
        store=results,
        workers=options.workers,
        on_done=done,
        on_tampered=tampered,
    )

    def submit(fetch: ReleaseFetch) -> list[ReleaseRequest]:
        for f in _present(fetch):
            stream.submit(_job(f))
        return follow(fetch) if follow is not None else []

    try:
        fetched = fetch_releases(list(requests), options.index, observer, submit)
        verdicts = _verify_all(fetched, stream)
    finally:
        stream.close()
    return fetched, verdicts, trust_root


def _earlier(fetch: ReleaseFetch, depth: int) -> list[ReleaseRequest]:
    """The nearest ``depth`` earlier releases with files, to compare identities with."""
    from packaging.version import InvalidVersion, Version

    if depth <= 0 or not fetch.versions:
        return []
    try:
        current = Version(fetch.request.version)
    except InvalidVersion:
        return []
    earlier = [v for v in fetch.versions if Version(v) < current]
    return [
        ReleaseRequest(fetch.request.project, v, frozenset(), fetch.request.index_url)
        for v in reversed(earlier[-depth:])
    ]


def _follow_earlier(
    main: set[ReleaseRequest], options: EnrichOptions, observer: Observer | None
) -> Callable[[ReleaseFetch], list[ReleaseRequest]]:
    """A ``follow`` callback: each release of ``main`` names the earlier releases drift
    compares it with; progress hears the total once and each release as it arrives."""
    if observer is not None and main:
        observer("total", str(len(main)))

    def follow(fetch: ReleaseFetch) -> list[ReleaseRequest]:
        if fetch.request not in main:
            return []
        if observer is not None:
            observer("release", fetch.request.project)
        return _earlier(fetch, options.drift_depth)

    return follow


def _expectation_from(previous: ComponentEvidence, version: str) -> Expectation | str:
    """What an earlier release expects of this one, or why it cannot say."""
    if previous.status in (Status.VERIFIED, Status.PARTIAL) and previous.identity is not None:
        return Expectation(DriftSource.PREVIOUS_RELEASE, version, previous.identity)
    if previous.status is Status.ABSENT:
        return Expectation(DriftSource.PREVIOUS_RELEASE, version, None)
    return f"{DriftSource.PREVIOUS_RELEASE.value}:{version} ({previous.status.value})"


def _with_drift(
    evidence: ComponentEvidence,
    request: ReleaseRequest,
    fetched: dict[ReleaseRequest, ReleaseFetch],
    verdicts: dict[tuple[str, str | None, bytes | None], FileVerdict],
    options: EnrichOptions,
    baseline: dict[str, Expectation],
    pins: dict[str, list[Expectation]],
    history: dict[str, Expectation | str] | None = None,
) -> ComponentEvidence:
    expectations: list[Expectation] = []
    unusable: list[str] = []
    main = fetched.get(request)
    for previous in _earlier(main, options.drift_depth) if main else []:
        if previous not in fetched:
            unusable.append(
                f"{DriftSource.PREVIOUS_RELEASE.value}:{previous.version} (not fetched)"
            )
            continue
        got = _expectation_from(evidence_for(fetched[previous], verdicts), previous.version)
        if isinstance(got, str):
            unusable.append(got)
        else:
            expectations.append(got)
    if request.project in baseline:
        expectations.append(baseline[request.project])
    if history and request.project in history:
        from_store = history[request.project]
        if isinstance(from_store, str):
            unusable.append(from_store)
        else:
            expectations.append(from_store)
    events, checked = assess(
        evidence, expectations, pins.get(request.project, ()), version=request.version
    )
    if not checked and not unusable and not events:
        return evidence
    return replace(evidence, drift=events, drift_checked=checked, drift_unchecked=tuple(unusable))


def _refuse_shared_bom_refs(sbom: Path, components: Sequence[Component]) -> None:
    """A PyPI component whose ``bom-ref`` another component shares cannot be named by the
    claim that carries its evidence: refuse the input now, not at ``verify`` time."""
    first: dict[str, Component] = {}
    for component in components:
        ref = component.bom_ref
        if not ref:
            continue
        other = first.setdefault(ref, component)
        if other is not component and (component.pypi or other.pypi):
            raise InputError(
                f"{sbom}: {component.locator}: bom-ref {ref!r} is also the bom-ref of "
                f"{other.locator}; CycloneDX requires unique bom-refs, and bomguard's "
                "evidence could not name its component"
            )


def _tampered_to(observer: Observer | None) -> Callable[[str], None]:
    def tampered(detail: str) -> None:
        if observer is not None:
            observer("cache-tampered", detail)

    return tampered


def _requests(
    components: Sequence[Component], options: EnrichOptions
) -> tuple[dict[str, ReleaseRequest], dict[str, ComponentEvidence | None]]:
    requests: dict[str, ReleaseRequest] = {}
    evidence: dict[str, ComponentEvidence | None] = {}
    for component in components:
        outcome = request_for(component, options)
        if isinstance(outcome, ReleaseRequest):
            requests[component.locator] = outcome
        else:
            evidence[component.locator] = outcome
    return requests, evidence


def fetch(
    sbom: Path,
    into: Path,
    options: EnrichOptions | None = None,
    *,
    observer: Observer | None = None,
) -> dict[str, Any]:
    """Write everything a later offline run of ``sbom`` needs into a mirror at ``into``.

    Returns counts: ``releases`` looked up, ``files`` found, ``provenance`` objects kept,
    ``unknown`` releases and files that could not be fetched; and ``failed``: those,
    named (``project==version`` or a file name), in SBOM order.
    """
    options = options or EnrichOptions()
    components = read_sbom(sbom, options.input_format).components()
    requests, _ = _requests(components, options)
    # The earlier releases drift compares with, so that offline runs can compare too.
    follow = _follow_earlier(set(requests.values()), options, observer)

    results = fetch_mirror(list(requests.values()), into, options.index, observer, follow)
    files = [f for r in results.values() for f in r.files]
    # In SBOM order (results arrive in completion order), then the earlier releases.
    order = list(dict.fromkeys(requests.values()))
    ordered = [results[r] for r in order if r in results]
    listed = set(order)
    ordered += [r for q, r in results.items() if q not in listed]
    failed = [
        name
        for r in ordered
        for name in (
            [f"{r.request.project}=={r.request.version}"]
            if r.error
            else [f.filename for f in r.files if f.state is FetchState.UNKNOWN]
        )
    ]
    return {
        "releases": len(results),
        "files": len(files),
        "provenance": sum(1 for f in files if f.state is FetchState.PRESENT),
        "unknown": len(failed),
        "failed": failed,
    }


def enrich(
    sbom: Path,
    options: EnrichOptions | None = None,
    *,
    observer: Observer | None = None,
) -> EnrichResult:
    """Enrich the SBOM at ``sbom`` with verified provenance and evaluate the policies.

    Raises :class:`bomguard.errors.InputError` for bad input (SBOM, policy, trust root
    file) and :class:`bomguard.errors.OperationalError` when the trust root cannot be
    loaded. The input file is never written to.
    """
    options = options or EnrichOptions()
    with LongLived() as run:
        return _enrich(sbom, options, observer, run)


def _enrich(
    sbom: Path, options: EnrichOptions, observer: Observer | None, run: LongLived
) -> EnrichResult:
    # Checked as load_policies() checks them; a cpp run remembers the check in the store.
    policies = load_for_run(
        options.policies,
        strict=options.strict,
        engine=options.cel_engine,
        location=store_location(options.index),
        tampered=_tampered_to(observer),
    )
    baseline = load_baseline(options.baseline) if options.baseline else {}
    pins = load_pins(options.pins) if options.pins else {}
    with collector_paused():  # a parse makes no cyclic garbage, only objects kept
        document = read_sbom(sbom, options.input_format)
        run.keep()
    components = document.components()
    if document.supports_declarations:
        _refuse_shared_bom_refs(sbom, components)

    requests, evidence = _requests(components, options)

    follow = _follow_earlier(set(requests.values()), options, observer)

    fetched, verdicts, trust_root = fetch_and_verify(
        list(requests.values()), options, observer, follow
    )
    embed = document.supports_declarations and options.embed_evidence is not False
    location = store_location(options.index) if options.store_history else None
    history = {}
    if location is not None and requests:
        from bomguard.store.history import history_expectations

        history = history_expectations(
            location, (r.project for r in requests.values()), _tampered_to(observer)
        )
    # Embedded provenance waits in a temporary file, not in memory (bomguard._spool).
    spool = ProvenanceSpool() if embed else None
    for component in components:
        request = requests.get(component.locator)
        if request is not None:
            found = evidence_for(fetched[request], verdicts)
            if spool is not None:
                for f in _present(fetched[request]):
                    spool.add(f.provenance or b"")
            evidence[component.locator] = _with_drift(
                found, request, fetched, verdicts, options, baseline, pins, history
            )
    del fetched, verdicts  # the provenance bytes: verified, and spooled where embedded
    # Some of what the fetch left holds the provenance bytes through reference cycles
    # (about 56,000 unreachable objects at 5,000 components): collected now, or the bytes
    # stay until the collector happens to run, and everything after comes on top.
    gc.collect()
    give_back()
    run.keep()  # the evidence, held to the end
    if location is not None and requests:
        from bomguard.store.history import record_run, sbom_label

        unrecorded = record_run(location, components, evidence, sbom_label(document, sbom))
        if unrecorded is not None and observer is not None:
            observer("store-unwritten", unrecorded)

    graph = build_graph(components, document.relationships())
    ranks = load_snapshot()
    pypi_names = {c.locator: c.pypi.name for c in components if c.pypi is not None}
    document.enrich(
        {
            locator: with_graph(
                addition_for(ev),
                graph.facts.get(locator) if graph is not None else None,
                ranks.rank(pypi_names[locator]) if locator in pypi_names else None,
            )
            for locator, ev in evidence.items()
            if ev is not None
        }
    )
    moment = options.now or datetime.datetime.now(datetime.UTC)
    verdict = evaluate(
        policies,
        [(c, evidence.get(c.locator)) for c in components],
        now=moment,
        engine=options.cel_engine,
        graph=graph,
        ranks=ranks,
    )
    if document.supports_declarations:
        from bomguard.sbom.cyclonedx_declarations import build_declarations

        subjects = [(c, e) for c in components if (e := evidence.get(c.locator)) is not None]
        targets = document.claim_targets([c.locator for c, _ in subjects])
        subjects = [(replace(c, bom_ref=targets[c.locator]), e) for c, e in subjects]
        declarations, standards = build_declarations(
            subjects,
            policies,
            verdict.results,
            embed=embed,
            now=_recorded_time(moment),
            spool=spool,
        )
        document.add_declarations(declarations, standards, spool)
    return EnrichResult(
        document, components, evidence, verdict, policies, trust_root, moment, graph, ranks
    )
