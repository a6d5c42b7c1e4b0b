"""sigstore's verifier, with each certificate's chain check made once per run.

The files of one release are usually signed in one publishing job, with one short-lived
certificate: ~3 attestations share each leaf certificate. Building and checking its
chain to the trust root (two P-384 signatures, the path-building policy) depends only
on the certificate, the time it is checked at and the trust root, all of which are in
the memo's key or fixed for the verifier's life. Only successes are remembered: a
failing chain is checked again every time, with sigstore's own error.
"""

from __future__ import annotations

from typing import Any

from sigstore.verify import Verifier

__all__ = ["MemoVerifier"]

#: Enough for every leaf certificate of a large run; bounded so memory is too.
MAX_CHAINS = 65536


class MemoVerifier(Verifier):
    """A sigstore ``Verifier`` that remembers each certificate chain it verified."""

    def __init__(self, *, trusted_root: Any) -> None:
        super().__init__(trusted_root=trusted_root)
        self._chains: dict[tuple[bytes, object, object], list[Any]] = {}

    def _verify_chain_at_time(self, certificate: Any, timestamp_result: Any) -> list[Any]:
        from cryptography.hazmat.primitives.serialization import Encoding

        key = (
            certificate.public_bytes(Encoding.DER),
            timestamp_result.time,
            timestamp_result.source,
        )
        chain = self._chains.get(key)
        if chain is None:
            chain = super()._verify_chain_at_time(certificate, timestamp_result)
            if len(self._chains) >= MAX_CHAINS:
                self._chains.clear()
            self._chains[key] = chain
        return list(chain)
