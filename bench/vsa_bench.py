"""VSA cost: building the statement for N files, signing it, verifying it.

- build: :func:`bomguard.vsa.statement.build_statement` for an SBOM of ``--sbom-mb`` MB
  (hashed) with N judged files and N provenance objects, including its own check;
- sign: :func:`bomguard.vsa.sign.sign_statement` through sigstore-python's real signing
  client against the test Sigstore's loopback Fulcio and Rekor (``SigningServices``):
  a key, a CSR, a certificate, a DSSE signature and a log entry; the network of a real
  Sigstore adds its round trips;
- verify: :func:`bomguard.vsa.verify.verify_vsa` of that bundle and SBOM.

Each is the median of ``--repeat`` runs. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _paths import setup_path

setup_path()


def _median(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--sbom-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from virtual_sigstore import GitHubIdentity, SigningServices

    from bomguard.vsa.sign import sign_statement
    from bomguard.vsa.statement import Subject, VsaInputs, build_statement
    from bomguard.vsa.verify import verify_vsa

    n = args.files
    files = tuple(
        Subject(
            f"pkg{i}-1.0.tar.gz",
            hashlib.sha256(b"file %d" % i).hexdigest(),
            (("bomguard:provenance", "verified"),),
        )
        for i in range(n)
    )
    provenance = tuple(
        (
            f"https://pypi.org/integrity/pkg{i}/1.0/pkg{i}-1.0.tar.gz/provenance",
            hashlib.sha256(b"provenance %d" % i).hexdigest(),
        )
        for i in range(n)
    )
    sbom = b"x" * (args.sbom_mb * 1_000_000)

    def build() -> bytes:
        inputs = VsaInputs(
            Subject("out.json", hashlib.sha256(sbom).hexdigest()),
            files,
            "urn:uuid:00000000-0000-4000-8000-000000000000",
            (("default", "builtin:default-policy.yaml", "0" * 64),),
            ("default",),
            provenance,
            True,
            "2026-01-01T00:00:00Z",
            {"bomguard": "bench"},
        )
        return build_statement(inputs)

    build_s, statement = _median(args.repeat, build)
    signer = GitHubIdentity("acme/app", workflow="sbom.yml")
    with tempfile.TemporaryDirectory() as tmp, SigningServices() as services:
        folder = Path(tmp)
        config = services.write_trust_config(folder / "trust_config.json")
        root = services.sigstore.write_trusted_root(folder / "trusted_root.json")
        sign_s, bundle = _median(
            args.repeat,
            lambda: sign_statement(
                statement, trust_config=config, identity_token=services.mint_token(signer)
            ),
        )
        (folder / "vsa.sigstore.json").write_bytes(bundle)
        (folder / "sbom.json").write_bytes(sbom)
        verify_s, _ = _median(
            args.repeat,
            lambda: verify_vsa(
                folder / "vsa.sigstore.json",
                folder / "sbom.json",
                cert_identity=signer.build_signer_uri,
                cert_oidc_issuer=signer.issuer,
                trust_root=str(root),
            ),
        )
    json.dump(
        {
            "files": n,
            "sbom_mb": args.sbom_mb,
            "statement_mb": round(len(statement) / 1e6, 2),
            "build_s": round(build_s, 3),
            "sign_s": round(sign_s, 3),
            "verify_s": round(verify_s, 3),
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
