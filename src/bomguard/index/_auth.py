"""The index client's credentials: basic auth from an index URL's user info, else netrc."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx  # the client loads it first (bomguard._httpx)

from bomguard.index.simple import _origin as origin

__all__ = ["IndexAuth"]


class IndexAuth(httpx.Auth):
    """Basic auth from the URL's own user info, else from a netrc file for that host."""

    def __init__(self, use_netrc: bool, index_urls: Sequence[str] = ()) -> None:
        self._by_origin: dict[tuple[str, str, int | None], tuple[str, str]] = {}
        for index_url in index_urls:
            parts = urlsplit(index_url)
            if parts.username or parts.password:
                creds = (unquote(parts.username or ""), unquote(parts.password or ""))
                self._by_origin.setdefault(origin(index_url), creds)
        self._netrc = None
        if use_netrc:
            import netrc
            import os

            path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
            if path.is_file():
                with contextlib.suppress(netrc.NetrcParseError, OSError):
                    self._netrc = netrc.netrc(str(path))

    def auth_flow(self, request: httpx.Request) -> Any:
        url = request.url
        same_origin = self._by_origin.get(origin(str(url)))
        if url.username or url.password:
            header = httpx.BasicAuth(url.username, url.password)._auth_header
            request.headers["Authorization"] = header
        elif same_origin is not None:
            # Credentials given with an index URL go to that index's origin, nowhere else.
            request.headers["Authorization"] = httpx.BasicAuth(*same_origin)._auth_header
        elif self._netrc is not None:
            found = self._netrc.authenticators(url.host)
            if found is not None and found[2] is not None:
                header = httpx.BasicAuth(found[0] or "", found[2])._auth_header
                request.headers["Authorization"] = header
        yield request
