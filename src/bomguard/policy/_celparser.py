"""cel-python's lark parser, built once per user instead of once per run.

Every engine's expressions are parsed with cel-python's grammar, and building that LALR
parser from the grammar takes about 0.5 s: most of a small run. lark can save a built
parser and load it back in ~40 ms, but its saved form is a pickle, and loading a pickle
runs code. So the saved parser is kept in the user cache directory *with an HMAC under
the per-user cache key* (:mod:`bomguard._cachekey`, the key that already authenticates
every cache entry): a file planted or edited without the key is never unpickled, just
rebuilt over. The file's name carries a digest of the grammar and of the lark and
cel-python versions, so an upgrade builds afresh. Without a key, or when anything about
the file is off, the parser is built as cel-python builds it and nothing else changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import tempfile
from pathlib import Path

__all__ = ["prepare"]

_MAC_HEX = 64


def _location() -> Path:
    """Where the built parser is kept."""
    from importlib.metadata import PackageNotFoundError, version

    import celpy.celparser
    import lark
    import platformdirs

    grammar = (Path(celpy.celparser.__file__).parent / "cel.lark").read_bytes()
    try:
        celpy_version = version("cel-python")
    except PackageNotFoundError:  # pragma: no cover - installed with bomguard
        celpy_version = "?"
    digest = hashlib.sha256(
        b"\0".join([grammar, lark.__version__.encode(), celpy_version.encode()])
    ).hexdigest()[:32]
    folder = Path(platformdirs.user_cache_dir("bomguard", "bomguard"))
    return folder / f"cel-parser-{digest}.lark"


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"cel-parser\0" + body, hashlib.sha256).hexdigest().encode("ascii")


def prepare() -> None:
    """Make sure cel-python's shared parser exists, loading the saved one if it is ours."""
    from celpy.celparser import CELParser
    from lark import Lark

    if CELParser.CEL_PARSER is not None:
        return
    from bomguard._cachekey import cache_key

    key = cache_key()
    try:
        path = _location() if key is not None else None
    except OSError:  # pragma: no cover - the grammar ships with cel-python
        path = None
    if key is None or path is None:
        CELParser()
        return
    with contextlib.suppress(OSError):
        raw = path.read_bytes()
        body = raw[_MAC_HEX:]
        if len(raw) > _MAC_HEX and hmac.compare_digest(raw[:_MAC_HEX], _tag(key, body)):
            with contextlib.suppress(Exception):
                CELParser.CEL_PARSER = Lark.load(io.BytesIO(body))
                return
    CELParser()
    _save(path, key)


def _save(path: Path, key: bytes) -> None:
    """Keep the built parser for the next run (a cache only: never a reason to fail)."""
    from celpy.celparser import CELParser

    assert CELParser.CEL_PARSER is not None
    buffer = io.BytesIO()
    tmp: Path | None = None
    with contextlib.suppress(Exception):
        CELParser.CEL_PARSER.save(buffer)
        body = buffer.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_tag(key, body) + body)
        tmp.replace(path)
        tmp = None
    if tmp is not None:
        with contextlib.suppress(OSError):
            tmp.unlink()
