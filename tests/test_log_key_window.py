"""A transparency-log entry counts only if the log key that signed it was valid (by the
trust root's ``validFor``) at the entry's integrated time.

sigstore-python builds its keyring from every log key whatever its window, so an entry
whose inclusion promise a retired (possibly leaked) Rekor key signed after its ``end``,
or a key signed before its ``start``, verifies with sigstore alone. bomguard must call it
``invalid``, on the fast path and on sigstore's path alike."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from helpers import cdx, props, pypi, run_cli, write_json
from virtual_sigstore import CA_NOT_BEFORE, DEFAULT_EPOCH, GitHubIdentity, VirtualSigstore

from bomguard.models import DigestSource, Status
from bomguard.verify import ProvenanceVerifier
from bomguard.verify.trust import load_trust_root

ACME = GitHubIdentity(repository="acme/widget", ref="refs/tags/v1.0", trigger="release")
FILENAME = "widget-1.0.tar.gz"
SHA = hashlib.sha256(b"widget-1.0.tar.gz contents").hexdigest()

#: Rekor key windows around the minted entries' integrated time (DEFAULT_EPOCH, 2025-06-01).
RETIRED = (CA_NOT_BEFORE, datetime(2025, 1, 1, tzinfo=UTC))
NOT_YET = (datetime(2026, 1, 1, tzinfo=UTC), None)
COVERING = (CA_NOT_BEFORE, datetime(2026, 1, 1, tzinfo=UTC))
ENDS_AT_ENTRY = (CA_NOT_BEFORE, DEFAULT_EPOCH)


@pytest.fixture(scope="module")
def minted(tmp_path_factory):
    sig = VirtualSigstore(seed=4242)
    folder = tmp_path_factory.mktemp("roots")
    roots = {
        name: sig.write_trusted_root(folder / f"{name}.json", rekor_valid_for=window)
        for name, window in (
            ("retired", RETIRED),
            ("not-yet", NOT_YET),
            ("covering", COVERING),
            ("ends-at-entry", ENDS_AT_ENTRY),
        )
    }
    provenance = sig.mint_provenance(FILENAME, SHA, ACME, signed_at=DEFAULT_EPOCH)
    return provenance, roots


def _enrich(index_server, tmp_path, root, capsys):
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    verdict = tmp_path / f"verdict-{root.stem}.json"
    capsys.readouterr()
    code = run_cli(
        [
            "enrich",
            str(sbom),
            "-o",
            str(tmp_path / f"out-{root.stem}.json"),
            "--verdict",
            str(verdict),
            "--index-url",
            index_server.index_url,
            "--trust-root",
            str(root),
            "--no-cache",
        ]
    )
    return code, json.loads(verdict.read_text()), capsys.readouterr().err


@pytest.mark.parametrize("window", ["retired", "not-yet"])
def test_an_entry_signed_outside_the_log_keys_window_is_invalid(
    index_server, minted, tmp_path, capsys, window
):
    provenance, roots = minted
    index_server.add_file("widget", FILENAME, sha256=SHA, provenance=provenance)
    code, verdict, err = _enrich(index_server, tmp_path, roots[window], capsys)
    assert code == 1, err
    finding = next(f for f in verdict["findings"] if f["component"] == "pkg:pypi/widget@1.0")
    assert finding["status"] == "invalid"
    assert finding["code"] == "log-key-not-valid", finding
    assert (
        "was not valid at the entry's integrated time 2025-06-01T12:00:00Z" in (finding["detail"])
    )


@pytest.mark.parametrize("window", ["covering", "ends-at-entry"])
def test_the_same_entry_inside_the_window_is_verified(
    index_server, minted, tmp_path, capsys, window
):
    provenance, roots = minted
    index_server.add_file("widget", FILENAME, sha256=SHA, provenance=provenance)
    code, verdict, err = _enrich(index_server, tmp_path, roots[window], capsys)
    assert code == 0, err
    assert not [f for f in verdict["findings"] if f["status"] != "verified"], verdict["findings"]


@pytest.mark.parametrize("window", ["retired", "not-yet", "covering"])
def test_the_fast_path_and_sigstores_path_agree(minted, window):
    provenance, roots = minted
    root = load_trust_root(str(roots[window]))
    fast = ProvenanceVerifier(root)
    assert fast.fast_path is not None
    with_fast = fast.verify(provenance, FILENAME, SHA, DigestSource.INDEX)
    sigstore_only = ProvenanceVerifier(root)
    sigstore_only.fast_path = None
    assert sigstore_only.verify(provenance, FILENAME, SHA, DigestSource.INDEX) == with_fast
    expected = Status.VERIFIED if window == "covering" else Status.INVALID
    assert with_fast[0] is expected, with_fast[1]
    if expected is Status.VERIFIED:
        # The covering root's verdict really came from the fast path.
        assert fast.fast_path.successes == 1


def test_sigstore_alone_accepts_an_entry_of_a_retired_log_key(minted):
    """Why bomguard checks the window itself: sigstore's verifier does not."""
    from pypi_attestations import Attestation
    from sigstore.verify import Verifier
    from sigstore.verify.policy import UnsafeNoOp

    provenance, roots = minted
    raw = json.loads(provenance)["attestation_bundles"][0]["attestations"][0]
    bundle = Attestation.model_validate(raw).to_bundle()
    verifier = Verifier(trusted_root=load_trust_root(str(roots["retired"])).load())
    verifier.verify_dsse(bundle, UnsafeNoOp())  # no error: the gap this check closes


def test_a_result_stored_by_a_build_without_the_check_is_not_reused(
    index_server, minted, tmp_path, capsys, monkeypatch
):
    """The store keeps verification results across runs, keyed by the code that decided
    them. A result a build without the window check stored (``verified``) must not be
    reused once the check exists: the checks' revision is part of the key."""
    import bomguard.verify.batch as batch
    from bomguard.store import _close_all
    from bomguard.verify.logkeys import LogKeyWindows

    provenance, roots = minted
    index_server.add_file("widget", FILENAME, sha256=SHA, provenance=provenance)
    sbom = write_json(tmp_path / "in.json", cdx([pypi("widget", "1.0")]))
    monkeypatch.setenv("BOMGUARD_CACHE_KEY_FILE", str(tmp_path / "cache-key"))

    def run() -> str:
        args = ["enrich", str(sbom), "-o", str(tmp_path / "out.json")]
        args += ["--index-url", index_server.index_url, "--trust-root", str(roots["retired"])]
        run_cli([*args, "--cache-dir", str(tmp_path / "cache"), "--revalidate"])
        _close_all()
        doc = json.loads((tmp_path / "out.json").read_text())
        return props(doc["components"][0])["bomguard:provenance:status"]

    # The build before: no window check, an older checks revision.
    with monkeypatch.context() as old:
        old.setattr(LogKeyWindows, "problem", lambda self, where, entry: None)
        old.setattr(batch, "CHECKS_REVISION", batch.CHECKS_REVISION - 1)
        batch.code_versions.cache_clear()
        assert run() == "verified"
    batch.code_versions.cache_clear()
    assert run() == "invalid"
