"""The enriched CycloneDX JSON is streamed to its output, each embedded provenance object
encoded as it is written: the bytes are the whole-document serializer's, a failure
half-way leaves no output at all, and 'bomguard verify' re-proves what was streamed."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import cdx, pypi, run_cli
from virtual_sigstore import GitHubIdentity, GitLabIdentity, GoogleIdentity, VirtualSigstore

from bomguard._io import write_all_atomic
from bomguard.errors import OperationalError
from bomguard.sbom._common import dump_json, json_indent

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
#: The input's indentation: two spaces (orjson), four, a tab (json.dumps), one line.
INDENTS = {"two": 2, "four": 4, "tab": "\t", "compact": None}


@pytest.fixture(scope="module")
def vsig(tmp_path_factory):
    sig = VirtualSigstore(seed=23)
    root = sig.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")
    return sig, root


def _mint_many(server, sig, projects: int = 12) -> tuple[list[dict[str, Any]], int]:
    """``projects`` releases of one to three files each, signed by several publisher kinds;
    the components and the total size of the provenance objects served."""
    components, total = [], 0
    kinds = [
        GitHubIdentity(repository="acme/one", ref="refs/tags/v1"),
        GitLabIdentity(repository="acme/two", ref="refs/tags/v1"),
        GoogleIdentity(email="release@acme-three.iam.gserviceaccount.com"),
    ]
    for n in range(projects):
        project = f"stream-pkg-{n:02d}"
        identity = kinds[n % len(kinds)]
        suffixes = [".tar.gz", "-py3-none-any.whl", "-cp312-cp312-manylinux_2_17_x86_64.whl"]
        for suffix in suffixes[: 1 + n % 3]:
            filename = f"stream_pkg_{n:02d}-1.0{suffix}"
            sha = hashlib.sha256(filename.encode()).hexdigest()
            provenance = sig.mint_provenance(filename, sha, identity)
            total += len(provenance)
            server.add_file(project, filename, sha256=sha, provenance=provenance)
        components.append(pypi(project, "1.0"))
    return components, total


def _write(path: Path, doc: dict[str, Any], indent: int | str | None) -> Path:
    if indent is None:
        path.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
    else:
        path.write_text(json.dumps(doc, indent=indent, ensure_ascii=False) + "\n")
    return path


def _enrich(sbom: Path, out: Path, server, root, *extra: str) -> int:
    return run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(out),
            "--index-url",
            server.index_url,
            "--trust-root",
            str(root),
            "--no-cache",
            "--drift-depth",
            "0",
            *extra,
        ]
    )


def _whole_document(out: Path, sbom: Path) -> bytes:
    """What the serializer of the whole document writes for the same content."""
    return dump_json(json.loads(out.read_bytes()), json_indent(sbom.read_bytes()))


def _attachments(doc: dict[str, Any]) -> list[bytes]:
    return [
        base64.b64decode(item["contents"]["attachment"]["content"], validate=True)
        for evidence in doc["declarations"]["evidence"]
        for item in evidence.get("data", [])
        if "attachment" in item.get("contents", {})
    ]


@pytest.mark.parametrize("style", sorted(INDENTS))
def test_streamed_output_is_the_whole_document_serializers(
    index_server, vsig, tmp_path, style, capsys
):
    sig, root = vsig
    components, _ = _mint_many(index_server, sig)
    doc = cdx([*components, {"type": "library", "name": "ünïcode", "version": "1e16"}])
    doc["metadata"]["properties"] = [{"name": "ratio", "value": "0.5"}]
    sbom = _write(tmp_path / "in.json", doc, INDENTS[style])
    out = tmp_path / "out.json"
    assert _enrich(sbom, out, index_server, root, "--validate-output") == 0
    written = out.read_bytes()
    assert written == _whole_document(out, sbom)
    enriched = json.loads(written)
    attached = _attachments(enriched)
    assert len(attached) == sum(1 + n % 3 for n in range(12))
    assert all(json.loads(a)["attestation_bundles"] for a in attached)
    capsys.readouterr()
    # 'bomguard verify' re-proves every streamed attachment, offline.
    index_server.close()
    code = run_cli(["verify", str(out), "--trust-root", str(root)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "0 differ from the record" in err


def test_streamed_real_fixture_keeps_its_bytes_and_reverifies(real_index, tmp_path, capsys):
    """A real cyclonedx-python SBOM, its components and the real PyPI provenance objects."""
    server, registered = real_index
    doc = json.loads((DATA / "sboms" / "cdxpy__environment_plain_with-extras_1.6.json").read_text())
    doc["components"].extend(pypi(r.project, r.version) for r in registered.values())
    for style, indent in INDENTS.items():
        sbom = _write(tmp_path / f"in-{style}.json", doc, indent)
        out = tmp_path / f"out-{style}.json"
        code = _enrich(sbom, out, server, "embedded")
        assert code in (0, 1), capsys.readouterr().err
        assert out.read_bytes() == _whole_document(out, sbom), style
        assert len(_attachments(json.loads(out.read_bytes()))) >= len(registered)
    capsys.readouterr()
    code = run_cli(["verify", str(tmp_path / "out-tab.json"), "--trust-root", "embedded"])
    assert code == 0, capsys.readouterr().err


def test_stdout_gets_the_same_bytes(index_server, vsig, tmp_path, capsys):
    sig, root = vsig
    components, _ = _mint_many(index_server, sig, projects=4)
    sbom = _write(tmp_path / "in.json", cdx(components), 2)
    out = tmp_path / "out.json"
    assert _enrich(sbom, out, index_server, root) == 0
    capsys.readouterr()
    assert _enrich(sbom, Path("-"), index_server, root) == 0
    streamed = capsys.readouterr().out.encode("utf-8")
    first, second = json.loads(out.read_bytes()), json.loads(streamed)
    # Two runs differ only in their timestamps and serial-free run record.
    assert _attachments(first) == _attachments(second)
    assert streamed == _whole_document_bytes(streamed, sbom)


def _whole_document_bytes(data: bytes, sbom: Path) -> bytes:
    return dump_json(json.loads(data), json_indent(sbom.read_bytes()))


def _limited(limit: int) -> Any:
    """A ``preexec_fn``: files the process writes may not grow beyond ``limit`` bytes (a
    full disk, as the writer sees it: EFBIG on the write that crosses it)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("where", ["file", "stdout"])
def test_a_disk_error_half_way_leaves_no_output(index_server, vsig, tmp_path, where):
    sig, root = vsig
    components, total = _mint_many(index_server, sig)
    sbom = _write(tmp_path / "in.json", cdx(components), 2)
    folder = tmp_path / "outputs"
    folder.mkdir()
    out = folder / "out.json"
    verdict = folder / "verdict.json"
    # The spooled provenance (``total`` bytes) fits; the SBOM (base64: 4/3 of it) cannot.
    limit = total + total // 8
    command = [
        sys.executable,
        "-m",
        "bomguard",
        "enrich",
        str(sbom),
        "-o",
        str(out) if where == "file" else "-",
        "--verdict",
        str(verdict),
        "--index-url",
        index_server.index_url,
        "--trust-root",
        str(root),
        "--no-cache",
        "--drift-depth",
        "0",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        command, capture_output=True, env=env, preexec_fn=_limited(limit), timeout=300
    )
    err = done.stderr.decode()
    assert done.returncode == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "File too large" in lines[0]
    if where == "file":
        assert str(out) in lines[0]
    assert done.stdout == b""
    assert sorted(p.name for p in folder.iterdir()) == []  # no output, no temporary file


def test_a_provenance_object_that_cannot_be_read_back_writes_nothing(index_server, vsig, tmp_path):
    """The spooled copy of a verified provenance object changes before the SBOM is written:
    nothing is written, and the error names the object (exit 3)."""
    from bomguard.index import IndexOptions
    from bomguard.pipeline import EnrichOptions, enrich

    sig, root = vsig
    components, _ = _mint_many(index_server, sig, projects=3)
    sbom = _write(tmp_path / "in.json", cdx(components), 2)
    options = EnrichOptions(
        index=IndexOptions(index_url=index_server.index_url, cache_dir=None),
        trust_root=str(root),
        drift_depth=0,
    )
    result = enrich(sbom, options)
    spool = result.document._spool
    assert spool is not None and len(spool) == 1 + 2 + 3
    handle = spool._file
    handle.seek(100)
    handle.write(b"X")
    handle.flush()
    out = tmp_path / "out.json"
    verdict = tmp_path / "verdict.json"
    with pytest.raises(OperationalError, match=r"sha256:[0-9a-f]{64}: its temporary copy changed"):
        write_all_atomic([(verdict, b"{}\n"), (out, result.document.write_to)])
    assert not out.exists() and not verdict.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.json"]


def test_validating_the_document_validates_what_is_streamed(index_server, vsig, tmp_path):
    """--validate-output validates the document before it is streamed, each attachment's
    content still a placeholder string: the schemas type that content as a plain string
    (no pattern, no length), so the outcome is the streamed document's."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT

    from bomguard.sbom import parse_sbom

    for version in ("1.6", "1.7"):
        schema = json.loads(Path(BOM_JSON_STRICT[SchemaVersion.from_version(version)]).read_text())
        content = copy.deepcopy(schema["definitions"]["attachment"]["properties"]["content"])
        content.pop("title", None)
        content.pop("description", None)
        assert content == {"type": "string"}, version
    sig, root = vsig
    components, _ = _mint_many(index_server, sig, projects=3)
    sbom = _write(tmp_path / "in.json", cdx(components, spec="1.7"), 2)
    out = tmp_path / "out.json"
    assert _enrich(sbom, out, index_server, root, "--validate-output") == 0
    assert parse_sbom(out.read_bytes(), out).validate() is None


def test_library_serialize_is_the_streamed_bytes(index_server, vsig, tmp_path):
    from bomguard.index import IndexOptions
    from bomguard.pipeline import EnrichOptions, enrich

    sig, root = vsig
    components, _ = _mint_many(index_server, sig, projects=3)
    sbom = _write(tmp_path / "in.json", cdx(components), "\t")
    options = EnrichOptions(
        index=IndexOptions(index_url=index_server.index_url, cache_dir=None),
        trust_root=str(root),
        drift_depth=0,
    )
    document = enrich(sbom, options).document
    buffer = io.BytesIO()
    document.write_to(buffer)
    assert document.serialize() == buffer.getvalue()
    assert buffer.getvalue() == _whole_document_bytes(buffer.getvalue(), sbom)
    # The document, not yet written, names the very objects the written one embeds.
    embedded = document.embedded_evidence()
    assert sorted(raw for files in embedded.values() for _, _, raw in files) == sorted(
        _attachments(json.loads(buffer.getvalue()))
    )
    assert sum(len(files) for files in embedded.values()) == 1 + 2 + 3
