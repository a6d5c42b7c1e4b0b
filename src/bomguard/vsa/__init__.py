"""The SLSA Verification Summary Attestation (VSA) of an enriched SBOM.

- :mod:`.statement`: build the in-toto Statement v1 (predicate
  ``https://slsa.dev/verification_summary/v1``) and check one against the Statement and
  VSA field rules;
- :mod:`.sign`: sign a statement with Sigstore (DSSE) into a Sigstore bundle;
- :mod:`.verify`: verify a bundle's signature and signer, and that an SBOM's bytes are
  the ones it vouches for.

Only :mod:`.statement` is light; the other two import sigstore when called.
"""

from bomguard.vsa.statement import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    VERIFIER_ID,
    StatementProblem,
    VsaInputs,
    build_statement,
    check_statement,
    level_for,
)

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "VERIFIER_ID",
    "StatementProblem",
    "VsaInputs",
    "build_statement",
    "check_statement",
    "level_for",
]
