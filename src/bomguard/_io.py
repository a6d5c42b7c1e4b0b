"""Output files: checked before any work, written all or none, never half-written.

Every destination is checked up front (:func:`check_destinations`): its directory exists
and takes a new file, it is not a directory, and it is neither the input nor another
output (compared by device and inode when the file exists, so a symlink or a hard link
to the input counts as the input). The outputs are then written together
(:func:`write_all_atomic`): each to a temporary file in its own directory (bytes, or
streamed piece by piece by a writer), and only when every one of them is complete are
they all renamed into place. If anything fails or a
signal arrives first, the temporary files are removed and no output is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bomguard.errors import InputError, OperationalError

__all__ = [
    "Content",
    "Destination",
    "Writer",
    "check_destinations",
    "pause_point",
    "write_all_atomic",
    "write_atomic",
]

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


Writer = Callable[[IO[bytes]], None]
"""Writes an output piece by piece to the handle it is given (a large SBOM, streamed)."""
Content = bytes | Writer


def _put(handle: IO[bytes], content: Content) -> None:
    if isinstance(content, bytes):
        handle.write(content)
    else:
        content(handle)


def _rendered(path: Path | str, content: Content) -> bytes | IO[bytes]:
    """Content for a stream (stdout, a device, a FIFO), complete before any of it goes
    out: bytes as they are, a writer's output in an anonymous temporary file."""
    if isinstance(content, bytes):
        return content
    try:
        spooled = tempfile.TemporaryFile(prefix="bomguard-output-")  # noqa: SIM115
        try:
            content(spooled)
            spooled.seek(0)
        except BaseException:
            spooled.close()
            raise
    except OSError as err:
        raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
    return spooled


def _send(handle: IO[bytes], rendered: bytes | IO[bytes]) -> None:
    if isinstance(rendered, bytes):
        handle.write(rendered)
    else:
        with rendered:
            shutil.copyfileobj(rendered, handle, 1 << 20)


def write_all_atomic(
    outputs: Sequence[tuple[Path, Content]], stdout: Content | None = None
) -> None:
    """Write every ``(path, content)`` or none: temporary files first, then the renames.

    ``content`` is bytes or a :data:`Writer` (called once, in order, with the temporary
    file: a writer may use what an earlier output's writer found). Raises
    :class:`OperationalError` (exit 3) naming the file that could not be written; on any
    failure or interrupt, every temporary file is removed and no path is touched. A
    destination that is a device or a FIFO (``-o /dev/null``) and ``stdout`` are written
    to directly after the renames, never replaced; a writer's output for them is made
    complete in a temporary file first, so a failure half-way writes none of it.
    """
    temps: list[tuple[Path, Path]] = []
    streams: list[tuple[Path, bytes | IO[bytes]]] = []
    out: bytes | IO[bytes] | None = None
    try:
        for path, content in outputs:
            if _is_stream(path):
                streams.append((path, _rendered(path, content)))
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
                    _put(handle, content)
                    handle.flush()
                    os.fsync(handle.fileno())
                tmp.chmod(_mode_for(path))
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
        if stdout is not None:
            out = _rendered("<stdout>", stdout)
        pause_point("write")
        while temps:
            tmp, path = temps[0]
            try:
                tmp.replace(path)
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
            temps.pop(0)
        while streams:
            path, rendered = streams.pop(0)
            try:
                with path.open("wb") as handle:
                    _send(handle, rendered)
            except OSError as err:
                raise OperationalError(f"{path}: cannot write: {err.strerror or err}") from err
        if out is not None:
            rendered, out = out, None
            _send(sys.stdout.buffer, rendered)
            sys.stdout.flush()
    finally:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for _, rendered in streams:
            if not isinstance(rendered, bytes):
                rendered.close()
        if out is not None and not isinstance(out, bytes):
            out.close()


def write_atomic(path: Path, data: Content) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    write_all_atomic([(path, data)])
