"""Output files: checked before any work, written all or none, never half-written.

Every destination is checked up front (:func:`check_destinations`): its directory exists
and takes a new file, it is not a directory, and it is neither the input nor another
output (compared by device and inode when the file exists, so a symlink or a hard link
to the input counts as the input). The outputs are then written together
(:func:`write_all_atomic`): each to a temporary file in its own directory, and only when
every one of them is complete are they all renamed into place. If anything fails or a
signal arrives first, the temporary files are removed and no output is touched.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bomguard.errors import InputError, OperationalError

__all__ = ["Destination", "check_destinations", "pause_point", "write_all_atomic", "write_atomic"]

PAUSE_ENV = "BOMGUARD_TEST_PAUSE"


def pause_point(name: str) -> None:
    """A test hook: with ``BOMGUARD_TEST_PAUSE=name``, say so on stderr and wait.

    Lets a test deliver a real signal at a known moment (say, while every output is
    written to its temporary file but none is renamed yet).
    """
    if os.environ.get(PAUSE_ENV) == name:
        sys.stderr.write(f"bomguard: paused at {name}\n")
        sys.stderr.flush()
        time.sleep(60)


@dataclass(frozen=True, slots=True)
class Destination:
    """An output file and the option that named it (for messages)."""

    option: str
    path: Path


def _identity(path: Path) -> tuple[object, ...]:
    """What makes two paths the same file: the inode if it exists, else the real path."""
    try:
        st = path.stat()
    except OSError:
        return ("path", os.path.realpath(path))
    return ("inode", st.st_dev, st.st_ino)


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path()


def check_destinations(
    destinations: Sequence[Destination],
    inputs: Sequence[Destination] = (),
    *,
    in_place_pair: tuple[str, str] | None = None,
    in_place: bool = False,
) -> None:
    """Raise :class:`InputError` (exit 2) unless every destination can be written.

    No destination may be one of the ``inputs`` (through a symlink or a hard link too),
    except that with ``in_place`` the destination and input options named by
    ``in_place_pair`` (say ``("-o/--output", "SBOM")``) may be the same file. No two
    destinations may be the same file. Each destination's directory must exist and accept
    a new file (probed by creating and removing one), and it must not be a directory.
    """
    seen: dict[tuple[object, ...], Destination] = {}
    read = [(_identity(source.path), source) for source in inputs]
    for dest in destinations:
        where = f"{dest.option} {dest.path}"
        ident = _identity(dest.path)
        for source_id, source in read:
            if ident != source_id:
                continue
            pair = (dest.option, source.option) == in_place_pair
            if pair and in_place:
                continue
            hint = " (--in-place overwrites it on purpose)" if pair else ""
            raise InputError(f"{where}: is the input {source.option} {source.path}{hint}")
        if ident in seen:
            other = seen[ident]
            raise InputError(f"{where}: the same file as {other.option} {other.path}")
        seen[ident] = dest
        if dest.path.is_dir():
            raise InputError(f"{where}: is a directory")
        if _is_stream(dest.path):
            continue  # written to directly, not replaced
        folder = _folder(dest.path)
        if not folder.exists():
            raise InputError(f"{where}: the directory {folder} does not exist")
        if not folder.is_dir():
            raise InputError(f"{where}: {folder} is not a directory")
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{dest.path.name}.", suffix=".tmp", dir=folder)
        except OSError as err:
            raise InputError(
                f"{where}: cannot write in the directory {folder}: {err.strerror or err}"
            ) from err
        os.close(fd)
        with contextlib.suppress(OSError):
            Path(probe).unlink()


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _is_stream(path: Path) -> bool:
    """An existing destination that is not a regular file (``/dev/null``, a FIFO)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_all_atomic(outputs: Sequence[tuple[Path, bytes]]) -> None:
    """Write every ``(path, data)`` or none: temporary files first, then the renames.

    Raises :class:`OperationalError` (exit 3) naming the file that could not be written;
    on any failure or interrupt, every temporary file is removed and no path is touched.
    A destination that is a device or a FIFO (``-o /dev/null``) is written to directly,
    after the renames, never replaced.
    """
    temps: list[tuple[Path, Path]] = []
    streams = [(path, data) for path, data in outputs if _is_stream(path)]
    try:
        for path, data in outputs:
            if _is_stream(path):
                continue
            folder = _folder(path)
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
            tmp = Path(tmp_name)
            temps.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                tmp.chmod(_mode_for(path))
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
        pause_point("write")
        while temps:
            tmp, path = temps[0]
            try:
                tmp.replace(path)
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
            temps.pop(0)
        for path, data in streams:
            try:
                with path.open("wb") as handle:
                    handle.write(data)
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    write_all_atomic([(path, data)])
