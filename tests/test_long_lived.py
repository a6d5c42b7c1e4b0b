"""What a run holds for its length is kept out of cycle collections, and only for its length."""

from __future__ import annotations

import gc
from pathlib import Path

from bomguard._memory import LongLived, collector_paused
from bomguard.index import IndexOptions
from bomguard.pipeline import EnrichOptions, enrich


def test_kept_objects_are_frozen_only_inside_the_block() -> None:
    assert gc.get_freeze_count() == 0
    with LongLived() as run:
        held = [{"a": [1]} for _ in range(100)]
        run.keep()
        assert gc.get_freeze_count() >= 100
    assert gc.get_freeze_count() == 0
    assert held


def test_objects_frozen_by_someone_else_are_left_frozen() -> None:
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with LongLived() as run:
            run.keep()
        assert gc.get_freeze_count() == before  # neither unfrozen nor grown by the run
    finally:
        gc.unfreeze()


def test_cycles_made_after_a_keep_are_still_collected() -> None:
    class Node:
        pass

    with LongLived() as run:
        run.keep()
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        del node
        assert gc.collect() >= 1


def test_the_collector_is_paused_and_restored_even_on_error() -> None:
    assert gc.isenabled()
    try:
        with collector_paused():
            assert not gc.isenabled()
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_an_enrich_run_leaves_nothing_frozen(tmp_path: Path) -> None:
    """The library call returns with the collector as it found it (an application calling
    ``enrich`` repeatedly must not keep each run's objects out of collection)."""
    examples = Path(__file__).resolve().parent.parent / "examples"
    options = EnrichOptions(
        index=IndexOptions(mirror=examples / "mirror", cache_dir=tmp_path / "cache"),
        trust_root="embedded",
    )
    result = enrich(examples / "app.cdx.json", options)
    assert gc.get_freeze_count() == 0
    assert any(e is not None and e.status.value == "verified" for e in result.evidence.values())
