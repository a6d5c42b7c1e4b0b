"""Shared fixtures: the test data directory and a real package index on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from indexserver import IndexServer, RegisteredFile, load_real_fixtures

DATA_DIR = Path(__file__).parent / "data"

_PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InternetAccessError(RuntimeError):
    """A test tried to reach a host other than the loopback interface."""


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = "" if host is None else str(host).lower().rstrip(".")
    if not name:
        return True  # getaddrinfo(None, port): a local bind address
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test writes to the real home/caches or talks to anything but 127.0.0.1.

    HOME and the XDG directories point at a fresh temporary directory (sigstore's TUF cache,
    bomguard's own cache), proxies are unset, and name resolution or connections to
    non-loopback addresses raise :class:`InternetAccessError` instead of leaving the machine.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for variable, sub in (
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(variable, str(home / sub))
    for variable in _PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise InternetAccessError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def check_address(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise InternetAccessError(f"test tried to connect to {address!r}")

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        check_address(sock, address)
        real_connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        check_address(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture
def data_dir() -> Path:
    """``tests/data``: real fixtures copied from the shared fixture set (see its README)."""
    return DATA_DIR


@pytest.fixture
def fresh_stores() -> Iterator[None]:
    """Every test opens its stores anew (a store stays open for the rest of a process)."""
    from bomguard.store import _close_all

    yield
    _close_all()


@pytest.fixture
def index_server() -> Iterator[IndexServer]:
    """A fresh, empty index on 127.0.0.1 for one test."""
    with IndexServer() as server:
        yield server
        errors = server.errors
    assert not errors, "index server handler failed:\n" + "\n".join(errors)


@pytest.fixture
def real_index(
    index_server: IndexServer, data_dir: Path
) -> tuple[IndexServer, dict[str, RegisteredFile]]:
    """The index serving one verifiable real fixture per dist (see ``load_real_fixtures``)."""
    return index_server, load_real_fixtures(index_server, data_dir)
