"""Re-verify an enriched SBOM offline: prove what it claims from the evidence it carries.

An SBOM handed over months later proves itself without the index. Whoever carried it
may have edited anything in it, so nothing it says is taken on its word:

- every component recorded ``verified`` or ``partial`` must carry embedded evidence for
  every file it counts as verified, and its recorded counts must agree with its files;
- each embedded provenance object must belong to its component: the file it names has
  the component's project name and version (PyPI filename rules), the claim that holds
  it targets exactly one component, and its digest is among the component's own SBOM
  hashes where the component has any;
- each is verified again against the trust root, the file's recorded digest, and the
  Trusted Publisher the SBOM *recorded* (never the one the evidence names);
- the identity re-derived from each certificate must equal the recorded
  ``bomguard:provenance:publisher:*`` fields, field by field;
- the component's status is summed up again from its files, and must equal the one
  recorded (which also catches an ``invalid`` file recorded as ``absent`` while the
  failing evidence is still embedded).

Formats that carry no embedded evidence (SPDX, CycloneDX XML, CycloneDX before 1.6)
cannot be re-proven offline: :class:`UnprovableFormat` says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from bomguard.distname import parse_dist_filename
from bomguard.errors import BomguardError, InputError
from bomguard.identity_record import TRUSTED_PUBLISHER, identity_record, record_from_json
from bomguard.models import Component, DigestSource, FileEvidence, Status, summarize
from bomguard.sbom import read_sbom
from bomguard.sbom.taxonomy import (
    DRIFT_EVENT,
    FILE,
    FILE_IDENTITIES,
    REPEATED,
    old_layout_name,
    parse_drift_event,
    parse_file_identities,
    parse_file_value,
)
from bomguard.verify import FileVerdict, load_trust_root
from bomguard.verify.batch import VerifyJob, verify_batch

__all__ = ["Finding", "OldPropertyLayout", "UnprovableFormat", "reverify"]

P = "bomguard:provenance:"
_STATUSES = frozenset(s.value for s in Status)


class UnprovableFormat(BomguardError):
    """The SBOM's format carries no embedded evidence: nothing can be re-proven (exit 1)."""

    exit_code = 1


class OldPropertyLayout(BomguardError):
    """The SBOM was enriched with the older property layout, whose names carried the
    filename or the event number: it is not read, it must be enriched again (exit 1)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Finding:
    """One component's record against what its embedded evidence proves now."""

    component: str
    recorded: str
    now: str
    reason: str = ""
    files_checked: int = 0
    problems: tuple[str, ...] = ()
    """Claims of the record that the evidence does not back (each one sentence)."""

    @property
    def differs(self) -> bool:
        return self.recorded != self.now or bool(self.problems)


@dataclass
class _Plan:
    """What one component claims, read from its properties."""

    component: Component
    label: str
    status: str
    files: dict[str, Status]
    record: dict[str, str]
    file_records: dict[str, list[dict[str, str]]]
    problems: list[str]


def _plan(component: Component) -> _Plan:
    props = component.properties
    label = component.purl or component.name
    problems: list[str] = []
    files: dict[str, Status] = {}
    file_records: dict[str, list[dict[str, str]]] = {}
    for value in component.values(FILE):
        parsed = parse_file_value(value)
        if parsed is None:
            problems.append(
                f"{FILE} {value!r} is not '<filename> <status>' with a file status bomguard writes"
            )
        elif parsed[0] in files:
            problems.append(f"{FILE} names {parsed[0]} more than once")
        else:
            files[parsed[0]] = parsed[1]
    for value in component.values(FILE_IDENTITIES):
        identities = parse_file_identities(value)
        if identities is None:
            problems.append(
                f'a {FILE_IDENTITIES} value is not {{"file": <filename>, "identities": '
                "[<record>, ...]}"
            )
        elif identities[0] in file_records:
            problems.append(f"{FILE_IDENTITIES} names {identities[0]} more than once")
        else:
            file_records[identities[0]] = identities[1]
    events = component.values(DRIFT_EVENT)
    kinds: list[str] = []
    for n, value in enumerate(events):
        event = parse_drift_event(value)
        if event is None:
            problems.append(
                f"{DRIFT_EVENT} #{n + 1} is not the JSON object bomguard writes "
                "(kind, before, after, source, since, and asserted-by: index)"
            )
        else:
            kinds.append(event["kind"])
    count = props.get("bomguard:drift:count")
    if (count is not None or events) and count != str(len(events)):
        problems.append(f"records {count or 'no'} drift events but carries {len(events)}")
    said_kinds = props.get("bomguard:drift:kinds") or ""
    if len(kinds) == len(events) and said_kinds != ", ".join(sorted(set(kinds))):
        problems.append(
            f"records drift kinds {said_kinds or '(none)'} but its events are of "
            f"{', '.join(sorted(set(kinds))) or 'none'}"
        )
    record = {k[len(P) :]: v for k, v in props.items() if k.startswith(P + "publisher:")}
    counts = Counter(files.values())
    total = props.get(P + "files:total")
    if total is not None and total != str(len(files)):
        problems.append(f"records {total} files but names {len(files)}")
    for kind in (
        Status.VERIFIED,
        Status.ABSENT,
        Status.INVALID,
        Status.UNSUPPORTED,
        Status.UNKNOWN,
    ):
        said = props.get(f"{P}files:{kind.value}")
        if said is not None and said != str(counts[kind]):
            problems.append(f"records {said} {kind.value} files but names {counts[kind]}")
    status = props[P + "status"]
    repeated = [
        n for n in component.repeated_properties if n.startswith("bomguard:") and n not in REPEATED
    ]
    if repeated:
        problems.append(
            f"carries {', '.join(repeated)} more than once: one value would hide another"
        )
    if status not in _STATUSES or status == Status.NOT_APPLICABLE.value:
        problems.append(f"records status {status!r}, which bomguard never writes on a component")
    if status in (Status.VERIFIED.value, Status.PARTIAL.value) and not counts[Status.VERIFIED]:
        problems.append(f"recorded {status} but names no verified file")
    for name in file_records:
        if name not in files:
            problems.append(
                f"{FILE_IDENTITIES} records identities for {name}, a file no {FILE} names"
            )
    return _Plan(component, label, status, files, record, file_records, problems)


def _sbom_digests(component: Component) -> set[str]:
    """The sha256 digests the SBOM itself gives the component (any file of it)."""
    digests = {d.lower() for d in component.hashes.get("sha256", ())}
    digests.update(r.sha256.lower() for r in component.dist_refs if r.sha256)
    return digests


def _belongs(component: Component, filename: str) -> str | None:
    """Why ``filename`` is not a file of ``component``, or ``None``."""
    parsed = parse_dist_filename(filename)
    if parsed is None:
        return f"evidence names {filename!r}, which is not a distribution filename"
    if component.pypi is None or component.pypi.version is None:
        return f"evidence for {filename} is attached to a component with no PyPI name and version"
    name, version = parsed
    if name != component.pypi.name or str(version) != component.pypi.version:
        return (
            f"evidence for {filename} ({name} {version}) does not belong to "
            f"{component.pypi.name} {component.pypi.version}"
        )
    return None


def _allowed(plan: _Plan, filename: str) -> list[dict[str, str]]:
    """The identities the record allows for ``filename``."""
    if filename in plan.file_records:
        return plan.file_records[filename]
    return [plan.record] if plan.record else []


def _identity_problem(
    filename: str, verdict: FileVerdict, allowed: list[dict[str, str]]
) -> str | None:
    """Why a re-verified file's identities are not the recorded ones, or ``None``."""
    for result in verdict[2]:
        if result.identity is None:
            continue
        got = identity_record(result.identity)
        if got in allowed:
            continue
        want = allowed[0] if allowed else {}
        fields = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
        detail = "; ".join(
            f"{k[len('publisher:') :]}: recorded {want.get(k) or '∅'}, "
            f"certificate {got.get(k) or '∅'}"
            for k in fields[:3]
        )
        return f"{filename}: the certificate's identity is not the recorded one ({detail})"
    return None


def reverify(
    sbom: Path,
    *,
    trust_root: str = "embedded",
    staging: bool = False,
    input_format: str | None = None,
) -> list[Finding]:
    """Re-check every PyPI component bomguard recorded in ``sbom``; no network is used
    unless ``trust_root`` is ``tuf``."""
    document = read_sbom(sbom, input_format)
    components = document.components()
    plans = [_plan(c) for c in components if c.properties.get(P + "status") is not None]
    if not plans:
        raise InputError(f"{sbom}: no component carries bomguard:provenance:status: not enriched")
    old = next(((c, n) for c in components for n in c.properties if old_layout_name(n)), None)
    if old is not None:
        raise OldPropertyLayout(
            f"{sbom}: enriched with an older bomguard property layout "
            f"({old[0].purl or old[0].name} carries {old[1]!r}): enrich it again",
            hint="this bomguard writes one fixed name per fact (docs/properties.md); an SBOM "
            "enriched by an earlier version cannot be verified",
        )
    # bomguard records a status on every PyPI component it judged: one without a record in
    # an enriched SBOM was added, or had its record removed, after enrichment.
    unjudged = [
        Finding(
            c.purl or c.name,
            "(no record)",
            Status.UNKNOWN.value,
            "a PyPI component without bomguard's record: added, or its record removed, "
            "after enrichment",
            0,
            ("no bomguard:provenance:status",),
        )
        for c in components
        if (c.pypi is not None or c.pypi_error) and P + "status" not in c.properties
    ]
    if not document.supports_declarations:
        raise UnprovableFormat(
            f"{sbom}: {document.format_name} {document.spec_version} carries no embedded "
            f"provenance, so the {len(plans)} statuses recorded in it cannot be re-proven "
            "offline",
            hint="enrich a CycloneDX 1.6 or later JSON SBOM, which embeds each provenance "
            "object in its declarations, and verify that; or enrich this SBOM again against "
            "the index",
        )
    embedded = document.embedded_evidence()
    refs = Counter(c.bom_ref for c in components if c.bom_ref)
    root = load_trust_root(trust_root, staging=staging)

    jobs: list[VerifyJob] = []
    where: list[tuple[int, str, str | None]] = []  # (plan, filename, digest) per job
    for n, plan in enumerate(plans):
        component = plan.component
        evidence = embedded.get(component.locator, [])
        if evidence and component.bom_ref and refs[component.bom_ref] > 1:
            plan.problems.append(
                f"bom-ref {component.bom_ref!r} names {refs[component.bom_ref]} components: "
                "its evidence cannot be told apart"
            )
        digests = _sbom_digests(component)
        for filename, sha, raw in evidence:
            problem = _belongs(component, filename)
            if problem is None and filename not in plan.files:
                problem = f"carries evidence for {filename}, a file it does not record"
            if problem is None and sha and digests and sha.lower() not in digests:
                problem = (
                    f"evidence for {filename} is bound to sha256 {sha}, which is not among "
                    "the component's own SBOM hashes"
                )
            if problem is not None:
                plan.problems.append(problem)
                continue
            held_to = None
            if plan.files.get(filename) is Status.VERIFIED:
                allowed = _allowed(plan, filename)
                publisher = allowed[0].get(TRUSTED_PUBLISHER) if allowed else None
                if publisher is None or record_from_json(publisher) is None:
                    plan.problems.append(
                        f"{filename}: no recorded Trusted Publisher (that parses) to hold the "
                        "evidence to"
                    )
                    continue
                held_to = publisher
            jobs.append(VerifyJob(raw, filename, sha, DigestSource.SBOM, held_to))
            where.append((n, filename, sha))

    verdicts = verify_batch(root, jobs)
    checked: Counter[int] = Counter()
    rechecked: dict[int, dict[str, FileEvidence]] = {}
    signed: dict[int, list[dict[str, str]]] = {}  # every identity re-derived, per plan
    for (n, filename, sha), verdict in zip(where, verdicts, strict=True):
        plan = plans[n]
        checked[n] += 1
        status, reason = verdict[0], verdict[1]
        if sha is None:
            status, reason = Status.INVALID, "no recorded sha256"
        elif status is Status.VERIFIED:
            signed.setdefault(n, []).extend(
                identity_record(r.identity) for r in verdict[2] if r.identity is not None
            )
            problem = _identity_problem(filename, verdict, _allowed(plan, filename))
            if problem is not None:
                plan.problems.append(problem)
        rechecked.setdefault(n, {})[filename] = FileEvidence(filename, sha, status, reason)

    findings = list(unjudged)
    for n, plan in enumerate(plans):
        if (
            plan.record
            and plan.status in (Status.VERIFIED.value, Status.PARTIAL.value)
            and n in signed
            and plan.record not in signed[n]
        ):
            # Per-file records may allow other identities; the component's own claim must
            # still be the identity of some signature it carries.
            who = plan.record.get("publisher:repository-uri") or plan.record.get(
                "publisher:identity", "?"
            )
            plan.problems.append(
                f"the recorded publisher ({who}) signed none of the embedded evidence"
            )
        files = {
            name: FileEvidence(name, None, status, "as recorded")
            for name, status in plan.files.items()
        }
        files.update(rechecked.get(n, {}))
        unprovable = [
            name
            for name, f in files.items()
            if f.status is Status.VERIFIED and f.reason == "as recorded"
        ]
        for name in unprovable:
            files[name] = replace(
                files[name], status=Status.UNKNOWN, reason="no provenance is embedded"
            )
            plan.problems.append(f"recorded as verified but no provenance is embedded for {name}")
        if files:
            status_now, reason = summarize(tuple(files.values()))
        elif plan.status in _STATUSES:
            status_now, reason = Status(plan.status), "no files recorded"
        else:
            status_now, reason = Status.UNKNOWN, "no files recorded"
        findings.append(
            Finding(
                plan.label,
                plan.status,
                status_now.value,
                "; ".join([*plan.problems, *([reason] if reason and not plan.problems else [])]),
                checked[n],
                tuple(plan.problems),
            )
        )
    return findings
