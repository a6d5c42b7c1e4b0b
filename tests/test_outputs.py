"""Outputs: checked before any work, written all or none, and the input never touched.

The signal tests run a real ``bomguard enrich`` process and send it a real SIGINT or
SIGTERM: while its verification workers are up and the index is slow to answer, and
while every output is written to a temporary file but none is renamed yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import cdx, pypi, run_cli, write_json

from bomguard._io import write_all_atomic
from bomguard.errors import OperationalError

EMBEDDED = ["--trust-root", "embedded"]


def _npm(i: int) -> dict[str, object]:
    purl = f"pkg:npm/left-pad-{i}@1.{i}.0"
    return {"type": "library", "bom-ref": purl, "name": f"left-pad-{i}", "purl": purl}


def _offline_sbom(tmp_path: Path, n: int = 3, name: str = "in.cdx.json") -> Path:
    """An SBOM with no PyPI component: enriching it makes no request at all."""
    return write_json(tmp_path / name, cdx([_npm(i) for i in range(n)]))


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- the input is never an output unless asked ----------------------------------------


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink", "relative"])
def test_output_that_is_the_input_is_refused(tmp_path, capsys, monkeypatch, link):
    sbom = _offline_sbom(tmp_path)
    before = sbom.read_bytes()
    out = {
        "same": sbom,
        "symlink": tmp_path / "link.json",
        "hardlink": tmp_path / "hard.json",
        "relative": Path("in.cdx.json"),
    }[link]
    if link == "symlink":
        out.symlink_to(sbom)
    elif link == "hardlink":
        os.link(sbom, out)
    elif link == "relative":
        monkeypatch.chdir(tmp_path)
    assert run_cli(["enrich", str(sbom), "-o", str(out), *EMBEDDED]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(sbom) in err and str(out) in err and "--in-place" in err
    assert sbom.read_bytes() == before


@pytest.mark.parametrize("how", [["-o", "SELF", "--in-place"], ["--in-place"]])
def test_in_place_overwrites_the_input_when_asked(tmp_path, how):
    sbom = _offline_sbom(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(sbom)
    args = [str(link) if a == "SELF" else a for a in how]
    assert run_cli(["enrich", str(sbom), *args, *EMBEDDED]) == 0
    doc = json.loads(sbom.read_text())
    assert doc["declarations"]["assessors"][0]["bom-ref"] == "bomguard:assessor"
    assert link.is_symlink()  # written through the link, not replacing it
    assert _listing(tmp_path) == ["in.cdx.json", "link.json"]


def test_in_place_with_another_output_is_a_usage_error(tmp_path, capsys):
    sbom = _offline_sbom(tmp_path)
    code = run_cli(["enrich", str(sbom), "--in-place", "-o", str(tmp_path / "x.json")])
    assert code == 2
    assert "--in-place" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra",
    [
        ["--verdict", "IN"],
        ["--report", "html:IN"],
        ["--in-place", "--verdict", "IN"],
        ["-o", "A", "--verdict", "A"],
        ["--verdict", "A", "--report", "sarif:A"],
        ["--policy", "POLICY", "--verdict", "POLICY"],
        ["--baseline", "BASE", "-o", "BASE"],
        ["--report", "html:A", "--report", "markdown:A"],
    ],
)
def test_outputs_may_not_collide_with_the_input_or_each_other(tmp_path, capsys, extra):
    sbom = _offline_sbom(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_bytes((Path(__file__).parent.parent / "policies" / "baseline.yaml").read_bytes())
    base = _offline_sbom(tmp_path, name="base.json")
    names = {"IN": str(sbom), "A": str(tmp_path / "a.out"), "POLICY": str(policy)}
    names["BASE"] = str(base)
    inputs = {p: p.read_bytes() for p in (sbom, policy, base)}
    args = [names.get(a, a) for a in extra]
    args = [a.replace(":IN", f":{sbom}").replace(":A", f":{names['A']}") for a in args]
    assert run_cli(["enrich", str(sbom), *args, *EMBEDDED]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert {p: p.read_bytes() for p in inputs} == inputs
    assert _listing(tmp_path) == ["base.json", "in.cdx.json", "policy.yaml"]


# -- every destination is checked before any network work -----------------------------


def _unwritable_dir(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere mode bits say no: use a pseudo filesystem
        if not Path("/proc/self").is_dir():
            pytest.skip("no unwritable directory for root here")
        return Path("/proc/self")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


@pytest.mark.parametrize("option", ["-o/--output", "--verdict", "--report"])
@pytest.mark.parametrize("problem", ["missing-dir", "is-a-dir", "unwritable", "parent-is-file"])
def test_bad_destinations_exit_2_before_any_request(
    index_server, tmp_path, capsys, option, problem
):
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sampleproject", "4.0.0")]))
    if problem == "missing-dir":
        target = tmp_path / "missing" / "x.json"
    elif problem == "is-a-dir":
        target = tmp_path / "adir"
        target.mkdir()
    elif problem == "unwritable":
        target = _unwritable_dir(tmp_path) / "x.json"
    else:
        (tmp_path / "afile").write_text("")
        target = tmp_path / "afile" / "x.json"
    args = {
        "-o/--output": ["-o", str(target)],
        "--verdict": ["-o", str(tmp_path / "out.json"), "--verdict", str(target)],
        "--report": ["-o", str(tmp_path / "out.json"), "--report", f"html:{target}"],
    }[option]
    code = run_cli(["enrich", str(sbom), *args, "--index-url", index_server.index_url, *EMBEDDED])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert option.split("/")[0] in err and str(target) in err
    assert index_server.requests == []  # checked before any network work
    assert not (tmp_path / "out.json").exists()


def test_a_failing_report_writes_no_output_at_all(real_index, tmp_path, monkeypatch, capsys):
    """Rendering happens before any file is written: one failure, no outputs."""
    import bomguard.report

    def broken(fmt, facts):
        raise OperationalError(f"cannot render {fmt}")

    monkeypatch.setattr(bomguard.report, "render", broken)
    server, _ = real_index
    sbom = write_json(tmp_path / "in.json", cdx([pypi("sigstore", "3.6.1")]))
    args = ["-o", str(tmp_path / "out.json"), "--verdict", str(tmp_path / "v.json")]
    args += ["--report", f"sarif:{tmp_path / 'r.sarif'}"]
    code = run_cli(["enrich", str(sbom), *args, "--index-url", server.index_url, *EMBEDDED])
    assert code == 3
    assert "cannot render sarif" in capsys.readouterr().err
    assert _listing(tmp_path) == ["in.json"]


def test_write_all_atomic_is_all_or_none(tmp_path):
    (tmp_path / "a").write_bytes(b"old a")
    gone = tmp_path / "gone"
    with pytest.raises(OperationalError, match="gone"):
        write_all_atomic([(tmp_path / "a", b"new a"), (gone / "b", b"new b")])
    assert (tmp_path / "a").read_bytes() == b"old a"
    assert _listing(tmp_path) == ["a"]
    write_all_atomic([(tmp_path / "a", b"new a"), (tmp_path / "b", b"new b")])
    assert (tmp_path / "a").read_bytes() == b"new a"
    assert _listing(tmp_path) == ["a", "b"]


# -- signals: real processes, real signals --------------------------------------------


def _start(args: list[str], **env: str) -> subprocess.Popen[str]:
    import bomguard

    source = Path(bomguard.__file__).parent.parent  # the code under test, in the child too
    environment = {**os.environ, "PYTHONPATH": str(source), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "bomguard", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,  # its own process group: every descendant is findable
    )


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _children(pid: int) -> list[int]:
    return [p for p in _group_members(pid) if p != pid]


def _assert_gone(pgid: int) -> None:
    deadline = time.monotonic() + 10
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_members(pgid) == [], "processes left behind"


def _finish(proc: subprocess.Popen[str], sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, err


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
SIGNALS = pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["SIGINT", "SIGTERM"],
)


@needs_proc
@SIGNALS
def test_signal_while_outputs_are_written_leaves_nothing(tmp_path, sig, code, word):
    """In place, with a verdict and two reports: the signal comes once all four are in
    temporary files and none is renamed; afterwards the input is as it was and no
    temporary file is left."""
    sbom = _offline_sbom(tmp_path, n=2000)
    before = sbom.read_bytes()
    args = ["enrich", str(sbom), "--in-place", *EMBEDDED, "--verdict", str(tmp_path / "v.json")]
    args += ["--report", f"html:{tmp_path / 'r.html'}", "--report", f"sarif:{tmp_path / 'r.sarif'}"]
    proc = _start(args, BOMGUARD_TEST_PAUSE="write")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.strip() == "bomguard: paused at write", line
    assert len([n for n in _listing(tmp_path) if n.endswith(".tmp")]) == 4
    returncode, err = _finish(proc, sig)
    assert returncode == code
    assert err.strip().splitlines() == [f"bomguard: {word} ({sig.name})"]
    assert _listing(tmp_path) == ["in.cdx.json"]
    assert sbom.read_bytes() == before
    _assert_gone(proc.pid)


@needs_proc
@SIGNALS
def test_signal_while_verifying_stops_every_worker(index_server, tmp_path, sig, code, word):
    """Enough components for the verification worker pool; the index answers slowly, so
    the signal arrives with the workers up and requests in flight."""
    components = [pypi(f"slow-project-{i}", "1.0") for i in range(40)]
    sbom = write_json(tmp_path / "in.json", cdx(components))
    before = sbom.read_bytes()
    index_server.fault("/simple/", delay=60)
    out = tmp_path / "out" / "enriched.json"
    out.parent.mkdir()
    args = ["enrich", str(sbom), "-o", str(out), "--verdict", str(out.parent / "v.json")]
    args += ["--index-url", index_server.index_url, "--no-cache", *EMBEDDED]
    proc = _start(args)
    want_workers = min(os.cpu_count() or 1, 8) if (os.cpu_count() or 1) > 1 else 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if index_server.requests and len(_children(proc.pid)) >= want_workers:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    workers = _children(proc.pid)
    assert len(workers) >= want_workers
    returncode, err = _finish(proc, sig)
    assert returncode == code, err
    assert err.strip().splitlines() == [f"bomguard: {word} ({sig.name})"]
    _assert_gone(proc.pid)
    assert _listing(out.parent) == []
    assert sbom.read_bytes() == before


def test_a_fifo_or_device_output_is_written_to_not_replaced(tmp_path):
    """``-o /dev/null`` or a FIFO: written into, never renamed over."""
    import stat
    import threading

    sbom = _offline_sbom(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert run_cli(["enrich", str(sbom), "-o", str(fifo), *EMBEDDED]) == 0
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and json.loads(received[0])["bomFormat"] == "CycloneDX"
    assert _listing(tmp_path) == ["in.cdx.json", "pipe"]
