"""The ``bomguard:`` property layout (docs/properties.md): no name carries data, a fact
about one file or one drift event is a fixed name repeated with the file in the value, and
``bomguard verify`` fails closed on any value that is not exactly the written form, on a
repeated entry, and on an SBOM enriched with the older layout whose names carried data."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from helpers import cdx, drift_events, enrich_cli, file_statuses, props, pypi, run_cli, write_json
from indexserver import IndexServer
from virtual_sigstore import GitHubIdentity, VirtualSigstore

from bomguard.models import (
    AttestationResult,
    ComponentEvidence,
    DriftEvent,
    DriftSource,
    FileEvidence,
    Identity,
    Status,
)
from bomguard.sbom import parse_sbom
from bomguard.sbom.properties import addition_for

DATA = Path(__file__).parent / "data"
FILE = "bomguard:provenance:file"
IDS = "bomguard:provenance:file-identities"
EVENT = "bomguard:drift:event"
ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
EVIL = GitHubIdentity(
    repository="evil/widget", ref="refs/tags/v1.0", trigger="release", repository_id="666"
)
PURL = "pkg:pypi/widget@1.0"
SDIST, WHEEL = "widget-1.0.tar.gz", "widget-1.0-py3-none-any.whl"


def _sha(filename: str) -> str:
    return hashlib.sha256(f"{filename} contents".encode()).hexdigest()


@pytest.fixture(scope="module")
def enriched(tmp_path_factory):
    """widget 1.0: a wheel signed by acme/widget (as 0.9 was), an sdist signed by
    evil/widget. Two files, a per-file identity record, and drift events, recorded by
    bomguard itself: this record verifies."""
    tmp = tmp_path_factory.mktemp("layout")
    sig = VirtualSigstore(seed=18)
    root = sig.write_trusted_root(tmp / "trusted_root.json")
    with IndexServer() as server:
        for filename, identity in (
            ("widget-0.9.tar.gz", ACME),
            (WHEEL, ACME),
            (SDIST, EVIL),
        ):
            sha = _sha(filename)
            provenance = sig.mint_provenance(filename, sha, identity)
            server.add_file("widget", filename, sha256=sha, provenance=provenance)
        sbom = write_json(tmp / "in.json", cdx([pypi("widget", "1.0")]))
        out = tmp / "out.json"
        enrich_cli(sbom, out, server.index_url, "--no-cache", trust_root=root)
    return out, json.loads(out.read_text()), root


def _widget(data):
    return next(c for c in data["components"] if c["name"] == "widget")


def _verify(tmp_path, data, root, capsys, mutate=None):
    forged = copy.deepcopy(data)
    if mutate is not None:
        mutate(_widget(forged)["properties"])
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    capsys.readouterr()
    code = run_cli(["verify", str(path), "--trust-root", str(root)])
    return code, capsys.readouterr().err


def _set(properties, name, value, which=0):
    """Set the ``which``-th property called ``name`` to ``value``."""
    [p for p in properties if p["name"] == name][which]["value"] = value


def test_each_fact_has_a_fixed_name_and_the_record_verifies(enriched, tmp_path, capsys):
    _, data, root = enriched
    widget = _widget(data)
    names = [p["name"] for p in widget["properties"]]
    assert file_statuses(widget) == {SDIST: "verified", WHEEL: "verified"}
    assert names.count(FILE) == 2
    assert names.count(IDS) == 1
    (ids,) = [json.loads(p["value"]) for p in widget["properties"] if p["name"] == IDS]
    assert set(ids) == {"file", "identities"} and ids["file"] in (SDIST, WHEEL)
    events = drift_events(widget)
    assert len(events) == int(props(widget)["bomguard:drift:count"]) >= 2
    assert {"multiple-identities", "repository-changed"} <= {e["kind"] for e in events}
    # No name carries a filename or an event number.
    assert not [n for n in names if re.search(r"\.whl|\.tar\.gz|:\d+:", n)], names
    code, err = _verify(tmp_path, data, root, capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (SDIST, "no status"),
        (f"{SDIST} trusted", "a status bomguard never writes"),
        (f"{SDIST} partial", "a component status, not a file's"),
        ("verified", "no filename"),
        (f"{SDIST}\tverified", "not space-separated"),
    ],
)
def test_a_file_value_that_does_not_parse_is_a_finding(enriched, tmp_path, capsys, value, why):
    _, data, root = enriched
    code, err = _verify(tmp_path, data, root, capsys, lambda ps: _set(ps, FILE, value))
    assert code == 1, why
    assert f"FAIL: {PURL}:" in err and f"{FILE} {value!r} is not" in err, err


def test_two_entries_for_one_file_are_a_finding(enriched, tmp_path, capsys):
    """A second, contradicting entry for the same file: one would hide the other."""
    _, data, root = enriched

    def twice(ps):
        _set(ps, FILE, f"{WHEEL} verified", which=0)
        _set(ps, FILE, f"{WHEEL} verified", which=1)

    code, err = _verify(tmp_path, data, root, capsys, twice)
    assert code == 1
    assert f"{FILE} names {WHEEL} more than once" in err, err


@pytest.mark.parametrize(
    "value",
    [
        # The older layout's value: a bare list of records.
        json.dumps([{"publisher:kind": "GitHub"}]),
        json.dumps({"file": SDIST, "identities": []}),
        json.dumps({"file": SDIST, "identities": [{"publisher:kind": 1}]}),
        json.dumps({"file": SDIST, "identities": [{}]}),
        json.dumps({"file": "", "identities": [{"publisher:kind": "GitHub"}]}),
        json.dumps({"file": SDIST, "identities": [{"a": "b"}], "extra": "x"}),
        json.dumps({"identities": [{"publisher:kind": "GitHub"}]}),
        "not json",
    ],
)
def test_a_file_identities_value_of_another_shape_is_a_finding(enriched, tmp_path, capsys, value):
    _, data, root = enriched
    code, err = _verify(tmp_path, data, root, capsys, lambda ps: _set(ps, IDS, value))
    assert code == 1
    assert f"FAIL: {PURL}:" in err and f"a {IDS} value is not" in err, err


def test_identities_for_a_file_with_no_file_entry_are_a_finding(enriched, tmp_path, capsys):
    _, data, root = enriched
    other = "widget-1.0-py2-none-any.whl"

    def elsewhere(ps):
        entry = next(p for p in ps if p["name"] == IDS)
        value = json.loads(entry["value"])
        entry["value"] = json.dumps({**value, "file": other})

    code, err = _verify(tmp_path, data, root, capsys, elsewhere)
    assert code == 1
    assert f"{IDS} records identities for {other}, a file no {FILE} names" in err, err


def test_identities_given_twice_for_one_file_are_a_finding(enriched, tmp_path, capsys):
    _, data, root = enriched

    def twice(ps):
        entry = next(p for p in ps if p["name"] == IDS)
        ps.append(dict(entry))

    code, err = _verify(tmp_path, data, root, capsys, twice)
    assert code == 1
    assert f"{IDS} names " in err and "more than once" in err, err


def _event(**change):
    def mutate(ps):
        entry = next(p for p in ps if p["name"] == EVENT)
        value = {**json.loads(entry["value"]), **change}
        entry["value"] = json.dumps({k: v for k, v in value.items() if v is not None})

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _event(kind=None),
        _event(kind=""),
        _event(source="hearsay"),
        _event(since=3),
        _event(**{"asserted-by": "me"}),
        _event(note="extra"),
        lambda ps: _set(ps, EVENT, "repository-changed"),
        lambda ps: _set(ps, EVENT, json.dumps(["repository-changed"])),
    ],
    ids=[
        "no-kind",
        "empty-kind",
        "unknown-source",
        "non-string",
        "asserted-by-other",
        "extra-key",
        "not-json",
        "a-list",
    ],
)
def test_a_drift_event_of_another_shape_is_a_finding(enriched, tmp_path, capsys, mutate):
    _, data, root = enriched
    code, err = _verify(tmp_path, data, root, capsys, mutate)
    assert code == 1
    assert f"FAIL: {PURL}:" in err and f"{EVENT} #1 is not the JSON object" in err, err


def _old_files(ps):
    for p in ps:
        if p["name"] == FILE:
            filename, _, status = p["value"].rpartition(" ")
            p["name"], p["value"] = f"{FILE}:{filename}", status


def _old_events(ps):
    keep = [p for p in ps if p["name"] != EVENT]
    events = [json.loads(p["value"]) for p in ps if p["name"] == EVENT]
    ps[:] = keep + [
        {"name": f"bomguard:drift:{i}:{k}", "value": v}
        for i, event in enumerate(events)
        for k, v in event.items()
    ]


@pytest.mark.parametrize("mutate", [_old_files, _old_events], ids=["files", "drift"])
def test_an_sbom_of_the_older_layout_does_not_verify(enriched, tmp_path, capsys, mutate):
    _, data, root = enriched
    code, err = _verify(tmp_path, data, root, capsys, mutate)
    assert code == 1
    lines = [line for line in err.splitlines() if "older bomguard property layout" in line]
    assert len(lines) == 1, err
    assert "enrich it again" in lines[0] and PURL in lines[0]
    assert "Traceback" not in err


# -- every format carries every value of a repeated name, in order -----------------------

ODD = 'odd name "q" </text> ü.whl'
IDENTITY = Identity(kind="GitHub", repository="acme/widget", workflow="release.yml")
OTHER = replace(IDENTITY, repository="evil/widget")


def _evidence(i: int) -> ComponentEvidence:
    files = (
        FileEvidence(f"pkg{i}-1.0.tar.gz", "a" * 64, Status.VERIFIED, identity=IDENTITY),
        FileEvidence(
            ODD,
            "b" * 64,
            Status.VERIFIED,
            identity=OTHER,
            attestations=tuple(
                AttestationResult(None, Status.VERIFIED, identity=i) for i in (OTHER, IDENTITY)
            ),
        ),
        FileEvidence(f"pkg{i}-1.0-py3-none-any.whl", None, Status.ABSENT, "no provenance"),
    )
    drift = (
        DriftEvent("repository-changed", "acme/widget", "evil/widget", DriftSource.RELEASE),
        DriftEvent("environment-changed", "", "pypi", DriftSource.PREVIOUS_RELEASE, "0.9", True),
        DriftEvent("workflow-changed", "a <b>", 'c "d"', DriftSource.PIN, "pins.yaml"),
    )
    return ComponentEvidence(Status.PARTIAL, "", files, drift=drift, drift_checked=("pin:x",))


FORMATS = [
    DATA / "sboms" / "cdxpy__requirements_file_with-hashes_1.5.json",
    DATA / "sboms" / "cdxpy__poetry_plain_with-urls_lock21_1.5.xml",
    DATA / "sboms-generated" / "sbom4python_fastapi_spdx.spdx.json",
    DATA / "sboms-generated" / "sbom4python_fastapi_spdx.spdx",
    DATA / "sboms-generated" / "spdxtools_fastapi_from-sbom4python.rdf.xml",
    DATA / "sboms" / "spdx-examples__ai-example01-simplehtr.spdx3.jsonld.json",
]


def _yaml() -> tuple[bytes, Path]:
    # sbom4python's SPDX JSON as YAML (the same tree).
    source = DATA / "sboms-generated" / "sbom4python_fastapi_spdx.spdx.json"
    raw = yaml.safe_dump(json.loads(source.read_bytes()), sort_keys=False).encode()
    return raw, Path("fastapi.spdx.yaml")


@pytest.mark.parametrize(
    "source",
    [*((p.read_bytes(), p) for p in FORMATS), _yaml()],
    ids=[*(p.name for p in FORMATS), "spdx-yaml"],
)
def test_repeated_facts_survive_every_encoding(source):
    raw, path = source
    document = parse_sbom(raw, path)
    pypi_components = [c for c in document.components() if c.pypi is not None]
    additions = {c.locator: addition_for(_evidence(i)) for i, c in enumerate(pypi_components)}
    assert additions
    document.enrich(additions)
    again = parse_sbom(document.serialize(), path)
    seen = 0
    for component in again.components():
        addition = additions.get(component.locator)
        if addition is None:
            continue
        seen += 1
        written: dict[str, list[str]] = {}
        for name, value in addition.properties:
            written.setdefault(name, []).append(value)
        assert len(written[FILE]) == 3 and len(written[EVENT]) == 3
        for name, values in written.items():
            assert component.values(name) == tuple(values), (path.name, name)
    assert seen == len(additions)


# -- docs/properties.md is the taxonomy of every name bomguard writes -----------------------


def _taxonomy() -> dict[str, str]:
    """Each property row of docs/properties.md: name to its description."""
    text = (Path(__file__).parent.parent / "docs" / "properties.md").read_text()
    text = text.split("## Properties of CycloneDX declarations")[0]  # not on components
    out = {}
    for line in text.splitlines():
        cells = line.strip("|").split(" | ")
        if line.startswith("| `bomguard:") and len(cells) == 3:  # property, description, example
            out[cells[0].strip(" `")] = cells[1]
    return out


def test_the_taxonomy_page_names_every_property_and_which_may_repeat():
    from bomguard.sbom.graph import GraphFacts
    from bomguard.sbom.properties import with_graph
    from bomguard.sbom.taxonomy import REPEATED

    full = Identity(
        kind="GitHub",
        issuer="https://token.actions.githubusercontent.com",
        repository="acme/widget",
        repository_uri="https://github.com/acme/widget",
        repository_id="1",
        owner_uri="https://github.com/acme",
        owner_id="2",
        workflow="release.yml",
        ref="refs/tags/v1",
        commit="c" * 40,
        build_signer_uri="https://github.com/acme/widget/.github/workflows/release.yml@v1",
        build_config_uri="https://github.com/acme/widget/.github/workflows/release.yml@v1",
        trigger="release",
        runner_environment="github-hosted",
        san="https://github.com/acme/widget/.github/workflows/release.yml@refs/tags/v1",
        environment="pypi",
        log_index=1,
        integrated_time=2,
        trusted_publisher={"kind": "GitHub"},
    )
    evidence = _evidence(0)
    first = replace(evidence.files[0], identity=full)
    evidence = replace(
        evidence,
        reason="1 of 3 files attested",
        index_url="https://pypi.org/simple/",
        files=(first, *evidence.files[1:]),
        drift_unchecked=("previous-release:0.9 (unknown)",),
    )
    addition = with_graph(addition_for(evidence), GraphFacts(2, 1, (("app", "pkg0"),), "dev"), 7)
    written = {name for name, _ in addition.properties}
    taxonomy = _taxonomy()
    assert written - set(taxonomy) == set(), "written but not in docs/properties.md"
    assert set(taxonomy) - written == set(), "in docs/properties.md but never written"
    repeats = {n for n, d in taxonomy.items() if "May appear multiple times" in d}
    assert repeats == REPEATED
    assert all("May appear once" in d for n, d in taxonomy.items() if n not in REPEATED)
    # Names follow the CycloneDX taxonomy's ABNF, lower case.
    assert all(re.fullmatch(r"[a-z0-9-]+(:[a-z0-9-]+)+", n) for n in taxonomy)


# -- a consumer: syft reads the repeated properties ------------------------------------------


def test_syft_reads_an_sbom_with_several_files_and_drift_events(enriched, tmp_path):
    """syft (cyclonedx-go, as grype and trivy read CycloneDX) reads the enriched SBOM and
    yields the input's packages. syft 1.18 keeps no foreign property in its own JSON; if
    it ever does, every ``bomguard:provenance:file`` value must come back."""
    from test_consumers import _syft_packages

    out, data, _ = enriched
    assert len(file_statuses(_widget(data))) == 2 and drift_events(_widget(data))
    before = _syft_packages(out.with_name("in.json"), tmp_path)
    assert before
    assert _syft_packages(out, tmp_path) == before
    kept = (tmp_path / f"{out.name}.syft.json").read_text()
    if "bomguard:" in kept:
        for filename, status in file_statuses(_widget(data)).items():
            assert json.dumps(f"{filename} {status}") in kept


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # An event removed (drift hidden from the auditor) without fixing the count.
        (lambda ps: ps.remove(next(p for p in ps if p["name"] == EVENT)), "drift events but"),
        # The kinds a consumer filters on no longer say what the events are.
        (lambda ps: _set(ps, "bomguard:drift:kinds", "ref-changed"), "records drift kinds"),
    ],
    ids=["event-removed", "kinds-edited"],
)
def test_drift_facts_that_disagree_with_the_events_are_a_finding(
    enriched, tmp_path, capsys, mutate, expected
):
    _, data, root = enriched
    code, err = _verify(tmp_path, data, root, capsys, mutate)
    assert code == 1
    assert f"FAIL: {PURL}:" in err and expected in err, err
