"""Stable codes, plain sentences and remediation hints for every provenance reason.

The verifier, the index client and the pipeline say *why* a file or a component is not
``verified`` in their own words (often an exception's first line). This module reads
those reasons after the fact and gives each one:

* a stable **code** (``subject-digest-mismatch``, ``publisher-mismatch``, ...) that
  policies can test (``component.provenance.code``) and SARIF carries;
* a **message**: one plain sentence a person can read;
* a **hint**: what to do about it;
* the raw **detail**, unchanged (shown with ``-v`` and kept in the verdict).

Classification never changes a status: it only explains the one the verification code
decided. A reason that matches nothing known gets the catch-all code of its status
(``invalid-other``, ``unknown-other``, ...), so a new message is never misfiled.
The catalogue is documented in docs/enrichment.md ("Reason codes").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bomguard.models import Component, ComponentEvidence, DigestSource, FileEvidence, Status

__all__ = [
    "CATALOGUE",
    "Explanation",
    "ReasonCode",
    "explain",
    "explain_component",
    "explain_file",
    "findings",
]


@dataclass(frozen=True, slots=True)
class ReasonCode:
    """One entry of the catalogue: a code, the status it goes with, and what to do."""

    code: str
    status: Status
    summary: str
    """The plain sentence (may be refined with facts from the raw reason)."""
    hint: str
    """What a person should do about it."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """A reason as a person reads it."""

    code: str
    message: str
    hint: str
    detail: str
    """The raw reason the verification code gave, unchanged."""

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "detail": self.detail,
        }


_TAMPER = (
    "the index or the provenance was tampered with: do not install this release; "
    "report it to the index (for PyPI: security@pypi.org) and to the project"
)

_CODES = (
    # invalid: a check that can be made failed
    ReasonCode(
        "publisher-mismatch",
        Status.INVALID,
        "The signing certificate was issued to another publisher than the one the index names.",
        _TAMPER,
    ),
    ReasonCode(
        "subject-digest-mismatch",
        Status.INVALID,
        "The attestation was signed for other file contents than the sha256 it was compared with.",
        _TAMPER,
    ),
    ReasonCode(
        "subject-name-mismatch",
        Status.INVALID,
        "The attestation was signed for another file than this one.",
        _TAMPER,
    ),
    ReasonCode(
        "certificate-untrusted",
        Status.INVALID,
        "The signing certificate is not one the Sigstore trust root in use vouches for: it "
        "does not chain to it, or was not valid when the signature was logged.",
        "check --trust-root and --staging (a staging attestation checked against production "
        "fails this way); if they are right, treat the provenance as forged: do not install",
    ),
    ReasonCode(
        "log-key-not-valid",
        Status.INVALID,
        "The transparency-log entry is signed by a log key the trust root did not hold "
        "valid when the entry was integrated (a retired key, or one not yet in use).",
        "check --trust-root and --staging; if they are right, treat the provenance as "
        "forged (a retired log key may have leaked): do not install",
    ),
    ReasonCode(
        "signature-invalid",
        Status.INVALID,
        "The signature does not verify: the signed statement or its certificate was altered.",
        _TAMPER,
    ),
    ReasonCode(
        "transparency-log-invalid",
        Status.INVALID,
        "The transparency-log entry does not prove this signature was logged.",
        _TAMPER,
    ),
    ReasonCode(
        "provenance-malformed",
        Status.INVALID,
        "The provenance object is not a well-formed PEP 740 provenance.",
        "report it to the index: it serves provenance that no verifier can read; do not "
        "rely on this release's provenance meanwhile",
    ),
    ReasonCode(
        "index-served-other-bytes",
        Status.INVALID,
        "The file downloaded from the index is not the file it advertises (or the SBOM records).",
        "do not install from this index; compare with another mirror and report it to the index",
    ),
    ReasonCode(
        "sbom-digest-conflict",
        Status.INVALID,
        "The SBOM records a file or sha256 that the index does not have for this release.",
        "check that the SBOM describes what was installed (regenerate it from the lock file); "
        "if it does, the index changed a published file: report it",
    ),
    ReasonCode(
        "no-recorded-digest",
        Status.INVALID,
        "The enriched SBOM records no sha256 to re-check the embedded evidence against.",
        "enrich the SBOM again with bomguard; do not edit its hashes by hand",
    ),
    ReasonCode(
        "invalid-other",
        Status.INVALID,
        "The provenance failed a check.",
        "treat the release as untrusted until the detail is understood; run with -v for it",
    ),
    # unsupported: every check that can be made passed, one could not be finished
    ReasonCode(
        "log-entry-unsupported",
        Status.UNSUPPORTED,
        "The transparency-log entry is of a form a PEP 740 attestation cannot carry proofs "
        "for, so logging could not be checked (certificate, signature and subject did verify).",
        "nothing to fix on your side; the policy decides whether unsupported is acceptable",
    ),
    ReasonCode(
        "publisher-kind-unsupported",
        Status.UNSUPPORTED,
        "The Trusted Publisher is of a kind bomguard does not know, so the certificate "
        "could not be held to it (certificate, signature and subject did verify).",
        "upgrade bomguard; until then, waive the rule for this component if you accept it",
    ),
    ReasonCode(
        "predicate-unsupported",
        Status.UNSUPPORTED,
        "The attestation states something bomguard does not understand (an unknown "
        "predicate type).",
        "upgrade bomguard; until then, waive the rule for this component if you accept it",
    ),
    ReasonCode(
        "unsupported-other",
        Status.UNSUPPORTED,
        "A check could not be finished.",
        "run with -v for the detail; the policy decides whether unsupported is acceptable",
    ),
    # unknown: the facts could not be gathered
    ReasonCode(
        "index-unreachable",
        Status.UNKNOWN,
        "The index could not be reached or did not answer in time.",
        "check the network, --index-url and --timeout/--retries, then run again",
    ),
    ReasonCode(
        "index-error",
        Status.UNKNOWN,
        "The index answered with an error or with something that is not a project page.",
        "check --index-url (it must be a PEP 503/691 simple index) and run again",
    ),
    ReasonCode(
        "release-not-found",
        Status.UNKNOWN,
        "The index has no files for this name and version.",
        "check the SBOM's name and version, or point --index-url at the index it came from",
    ),
    ReasonCode(
        "off-origin-refused",
        Status.UNKNOWN,
        "The index pointed at another host, which bomguard refuses by default.",
        "if that host is expected, allow it with --allow-provenance-host",
    ),
    ReasonCode(
        "other-index",
        Status.UNKNOWN,
        "The component's purl names an index that this run does not consult.",
        "add that index with --extra-index-url",
    ),
    ReasonCode(
        "provenance-unavailable",
        Status.UNKNOWN,
        "The index advertises provenance for this file but did not serve it.",
        "run again later; if it persists, report it to the index",
    ),
    ReasonCode(
        "provenance-not-advertised",
        Status.UNKNOWN,
        "The index does not say whether this file has provenance (it does not serve PEP 740).",
        "use an index that serves PEP 740 provenance (pypi.org does), or a --mirror fetched "
        "from one",
    ),
    ReasonCode(
        "download-failed",
        Status.UNKNOWN,
        "The distribution file could not be downloaded to hash it (--hash-files).",
        "check the network and --max-file-bytes, then run again",
    ),
    ReasonCode(
        "index-digest-missing",
        Status.UNKNOWN,
        "Neither the index nor the SBOM gives a usable sha256 for this file, so the "
        "attestation cannot be bound to it.",
        "record the file's sha256 in the SBOM, or use --hash-files",
    ),
    ReasonCode(
        "sbom-file-not-found",
        Status.UNKNOWN,
        "The SBOM names a distribution file that this release does not have on the index.",
        "check that the SBOM describes what was installed (regenerate it from the lock file)",
    ),
    ReasonCode(
        "mirror-incomplete",
        Status.UNKNOWN,
        "The --mirror directory lacks this page or provenance, or its copy does not match "
        "the mirror's manifest.",
        "fetch the mirror again with 'bomguard fetch'; a file that does not match its "
        "manifest was altered after it was fetched",
    ),
    ReasonCode(
        "version-missing",
        Status.UNKNOWN,
        "The SBOM gives no usable version for this component.",
        "regenerate the SBOM with exact versions (from the lock file)",
    ),
    ReasonCode(
        "purl-invalid",
        Status.UNKNOWN,
        "The component's pkg:pypi purl cannot be understood.",
        "fix the purl in the SBOM (pkg:pypi/<name>@<version>)",
    ),
    ReasonCode(
        "no-files",
        Status.UNKNOWN,
        "There are no distribution files to check for this release.",
        "check the SBOM's version against the index",
    ),
    ReasonCode(
        "no-embedded-evidence",
        Status.UNKNOWN,
        "The SBOM records this component as verified but embeds no provenance to re-check.",
        "enrich the SBOM again with --embed-evidence (CycloneDX 1.6 or later)",
    ),
    ReasonCode(
        "unknown-other",
        Status.UNKNOWN,
        "The provenance could not be checked.",
        "run with -v for the detail, then run again",
    ),
    # absent / partial
    ReasonCode(
        "no-provenance",
        Status.ABSENT,
        "The project publishes no PEP 740 provenance for this release.",
        "ask the project to publish with a Trusted Publisher (PyPI attestations), or "
        "waive the rule for this component",
    ),
    ReasonCode(
        "some-files-attested",
        Status.PARTIAL,
        "Only some files of this release have provenance; the rest have none.",
        "ask the project to attest every file, or pin the attested ones",
    ),
)

#: Every code, by name (documented in docs/enrichment.md).
CATALOGUE: dict[str, ReasonCode] = {c.code: c for c in _CODES}

_OTHER = {
    Status.INVALID: "invalid-other",
    Status.UNSUPPORTED: "unsupported-other",
    Status.UNKNOWN: "unknown-other",
    Status.ABSENT: "no-provenance",
    Status.PARTIAL: "some-files-attested",
}

#: (status, pattern, code): the first match wins; patterns are searched in the raw reason.
_RULES: tuple[tuple[Status, str, str], ...] = (
    (
        Status.INVALID,
        r"does not match expected Trusted Publisher|Certificate's \w+ does not "
        r"match|does not contain \w+ \(|publisher .*does not match",
        "publisher-mismatch",
    ),
    (Status.INVALID, r"subject sha256 .* does not match", "subject-digest-mismatch"),
    (Status.INVALID, r"subject name|subjects \(exactly one", "subject-name-mismatch"),
    (Status.INVALID, r"transparency log key \w+ was not valid", "log-key-not-valid"),
    (
        Status.INVALID,
        r"does not chain to the trust root|certificate does not parse|"
        r"CertValidationError|certificate chain|expired at time of signing|SCT",
        "certificate-untrusted",
    ),
    (
        Status.INVALID,
        r"log entry|transparency-log|inclusion|SET|checkpoint|timestamp",
        "transparency-log-invalid",
    ),
    (Status.INVALID, r"signature", "signature-invalid"),
    (Status.INVALID, r"index serves other bytes", "index-served-other-bytes"),
    (Status.INVALID, r"the SBOM's sha256|the SBOM names a file", "sbom-digest-conflict"),
    (Status.INVALID, r"no recorded sha256", "no-recorded-digest"),
    (
        Status.INVALID,
        r"not JSON|not PEP 740|no attestation|malformed|is not an object|"
        r"payload type|not a string",
        "provenance-malformed",
    ),
    (Status.UNSUPPORTED, r"transparency-log entry cannot be checked", "log-entry-unsupported"),
    (Status.UNSUPPORTED, r"publisher kind", "publisher-kind-unsupported"),
    (Status.UNSUPPORTED, r"predicate type", "predicate-unsupported"),
    (Status.UNKNOWN, r"another index", "other-index"),
    (Status.UNKNOWN, r"the SBOM names a file", "sbom-file-not-found"),
    (Status.UNKNOWN, r"not in the mirror|mirror file", "mirror-incomplete"),
    (Status.UNKNOWN, r"does not advertise PEP 740", "provenance-not-advertised"),
    (Status.UNKNOWN, r"origin; refused|off the index's origin", "off-origin-refused"),
    (Status.UNKNOWN, r"distribution download failed|larger than", "download-failed"),
    (Status.UNKNOWN, r"no independent sha256|the index gives a sha256", "index-digest-missing"),
    (
        Status.UNKNOWN,
        r"advertised provenance|provenance access|provenance fetch failed|"
        r"provenance response",
        "provenance-unavailable",
    ),
    (
        Status.UNKNOWN,
        r"timed out|connection failed|Name or service|HTTP 5\d\d|HTTP 429",
        "index-unreachable",
    ),
    (Status.UNKNOWN, r"has no files on the index|HTTP 404", "release-not-found"),
    (Status.UNKNOWN, r"HTTP \d+|content type|project page", "index-error"),
    (Status.UNKNOWN, r"no version|PEP 440|version", "version-missing"),
    (Status.UNKNOWN, r"purl", "purl-invalid"),
    (Status.UNKNOWN, r"no distribution files", "no-files"),
    (Status.UNKNOWN, r"no provenance is embedded", "no-embedded-evidence"),
)

_DIGEST_FROM = {
    DigestSource.INDEX: "the sha256 the index advertises",
    DigestSource.SBOM: "the sha256 the SBOM records",
    DigestSource.DOWNLOADED: "the sha256 of the bytes bomguard downloaded",
}


def _publisher_sentence(raw: str) -> str | None:
    """Name both sides of a publisher mismatch, when the raw reason says them."""
    expected = re.search(r"does not match expected Trusted Publisher \(([^()]*)\)", raw)
    if expected:
        workflow, _, repo = expected.group(1).partition(" @ ")
        index_side = f"{repo or workflow} (workflow {workflow})" if repo else workflow
        # The certificate's Build Config URI, however the error spells the extension.
        uri = re.search(r"Build Config URI \(.*?(https://[^\s'\")>]+)", raw)
        cert_side = "another publisher"
        if uri:
            found = re.match(
                r"https://github\.com/([^/]+/[^/]+)/\.github/workflows/([^@]+)", uri.group(1)
            )
            cert_side = f"{found.group(1)} (workflow {found.group(2)})" if found else uri.group(1)
        return (
            f"The publisher on the index names {index_side}; the certificate was issued "
            f"to {cert_side}."
        )
    found = re.search(
        r"Certificate's (\w+) does not match \(got '?([^,']*)'?, expected '?([^)']*)'?\)", raw
    )
    if found:
        what, got, want = found.groups()
        forge = re.compile(r"^https://(?:github|gitlab)\.com/")
        return (
            f"The publisher on the index names {forge.sub('', want)}; the certificate was "
            f"issued to {forge.sub('', got)} (its {what} differs)."
        )
    return None


def _digest_sentence(raw: str, source: DigestSource | None) -> str:
    found = re.search(r"subject sha256 (\S+) does not match the file's (\S+)", raw)
    origin = _DIGEST_FROM.get(source, "the file's sha256") if source else "the file's sha256"
    if not found:
        return f"The attestation was signed for other file contents than {origin}."
    claimed, expected = found.groups()
    how = (
        "bomguard hashed the bytes it downloaded"
        if source is DigestSource.DOWNLOADED
        else "bomguard compared digests; it did not hash the file itself"
    )
    return f"The attestation was signed for sha256 {claimed}, but {origin} is {expected} ({how})."


_REFINE: dict[str, Callable[[str, DigestSource | None], str | None]] = {
    "publisher-mismatch": lambda raw, _src: _publisher_sentence(raw),
    "subject-digest-mismatch": _digest_sentence,
}


def explain(status: Status, reason: str, digest_source: DigestSource | None = None) -> Explanation:
    """The code, sentence and hint for a ``status`` with its raw ``reason``.

    ``digest_source`` says where the sha256 the attestation was compared with came from,
    so a digest mismatch names the index, the SBOM or the download, never "the file".
    """
    if status in (Status.VERIFIED, Status.NOT_APPLICABLE):
        return Explanation("", "", "", reason)
    code = _OTHER[status]
    for rule_status, pattern, rule_code in _RULES:
        if rule_status is status and re.search(pattern, reason):
            code = rule_code
            break
    entry = CATALOGUE[code]
    refine = _REFINE.get(code)
    message = (refine(reason, digest_source) if refine else None) or entry.summary
    return Explanation(code, message, entry.hint, reason)


def explain_file(evidence: FileEvidence) -> Explanation:
    """:func:`explain` for one file's evidence."""
    return explain(evidence.status, evidence.reason, evidence.digest_source)


def explain_component(
    status: Status, reason: str, evidence: ComponentEvidence | None
) -> Explanation:
    """:func:`explain` for a component: the first file that has the component's status
    decides the code (as it decided the reason), with the component's own reason kept."""
    if evidence is not None:
        for f in evidence.files:
            if f.status is status and f.status is not Status.VERIFIED:
                inner = explain_file(f)
                return Explanation(inner.code, inner.message, inner.hint, reason)
    return explain(status, reason)


def findings(
    components: Iterable[Component], evidence: Mapping[str, ComponentEvidence]
) -> list[dict[str, str]]:
    """One entry per PyPI component that is not verified, in SBOM order (for the verdict)."""
    from bomguard.policy.facts import component_label

    out = []
    for component in components:
        ev = evidence.get(component.locator)
        if ev is None or ev.status in (Status.VERIFIED, Status.NOT_APPLICABLE):
            continue
        explained = explain_component(ev.status, ev.reason, ev)
        out.append(
            {
                "component": component_label(component),
                "bom_ref": component.bom_ref or "",
                "status": ev.status.value,
                **explained.to_dict(),
            }
        )
    return out
