"""Provenance objects kept on disk, not in memory, between verification and the output.

An enriched CycloneDX SBOM embeds every file's provenance object (15,000 of them, 124 MiB,
at 5,000 components). Once verified, each is appended to an anonymous temporary file
(removed by the system when the run ends, even on a crash) and only its offset, length
and sha256 stay in memory; the streamed writer reads each back while it writes the SBOM
(:mod:`bomguard.sbom.cyclonedx_stream`). Every object read back is checked against the
sha256 recorded when it was verified: bytes other than the verified ones are never
embedded, and a spool that cannot be read is an operational error (exit 3), not a
smaller SBOM.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import weakref
from typing import IO, Any

from bomguard.errors import OperationalError

__all__ = ["ProvenanceSpool"]


class ProvenanceSpool:
    """Provenance objects by sha256, in a temporary file; each read back is checked."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._at: dict[str, tuple[int, int]] = {}
        self._end = 0
        self._closer: weakref.finalize[Any, Any] | None = None
        #: Starts every placeholder string (see :meth:`placeholder`); random per spool, so
        #: no string of the input SBOM can be taken for one.
        self.token = f"bomguard-attachment-{secrets.token_hex(16)}:"

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._at

    def __len__(self) -> int:
        return len(self._at)

    def add(self, data: bytes) -> str:
        """Keep ``data`` (once per distinct object); its sha256 (hex) names it."""
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._at:
            return digest
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="bomguard-provenance-")  # noqa: SIM115
            # Closed with the spool (when the document holding it goes), never left open.
            self._closer = weakref.finalize(self, self._file.close)
        try:
            self._file.seek(self._end)
            self._file.write(data)
        except OSError as err:
            raise OperationalError(
                f"cannot keep a provenance object in a temporary file: {err.strerror or err}"
            ) from err
        self._at[digest] = (self._end, len(data))
        self._end += len(data)
        return digest

    def read(self, sha256: str) -> bytes:
        """The object named ``sha256``, exactly as it was verified."""
        where = self._at.get(sha256)
        if where is None or self._file is None:
            raise OperationalError(f"provenance object sha256:{sha256}: not kept for the output")
        offset, length = where
        try:
            self._file.seek(offset)
            data = self._file.read(length)
        except OSError as err:
            raise OperationalError(
                f"provenance object sha256:{sha256}: cannot be read back from its temporary "
                f"file: {err.strerror or err}"
            ) from err
        if len(data) != length or hashlib.sha256(data).hexdigest() != sha256:
            raise OperationalError(
                f"provenance object sha256:{sha256}: its temporary copy changed after it was "
                "verified; nothing was written"
            )
        return data

    def placeholder(self, sha256: str) -> str:
        """The string that stands for the object's base64 text until the SBOM is written."""
        return self.token + sha256

    def close(self) -> None:
        if self._file is not None:
            if self._closer is not None:
                self._closer()
            self._file = None
