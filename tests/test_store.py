"""The canonical store: hive-partitioned Parquet per region, content-hashed, rewritten only on change."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
from labfiles import (
    TINY_CLUSTERS,
    TINY_CONFIG,
    TINY_FIRMS,
    TINY_MEMBERS,
    TINY_ORDERS,
    write_tiny_lab,
)

from policylab import store as store_mod
from policylab.config import load_config
from policylab.errors import InputDataError
from policylab.ingest import check_inputs, ingest
from policylab.store import CanonicalStore, atomic_write_many, store_dir


def two_region_lab(root: Path, *, firms_b: str = TINY_FIRMS) -> Path:
    """The tiny lab twice: region 'tiny' reads folder a/, region 'tiny2' folder b/."""
    text = TINY_CONFIG.format(extra="")
    head, region = text.split("[[regions]]")
    a = region.replace('path = "', 'path = "a/')
    b = region.replace('path = "', 'path = "b/').replace('key = "tiny"', 'key = "tiny2"')
    for folder, firms in (("a", TINY_FIRMS), ("b", firms_b)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, content in (("firms.csv", firms), ("members.csv", TINY_MEMBERS), ("clusters.csv", TINY_CLUSTERS),
                              ("orders.csv", TINY_ORDERS)):
            (root / folder / name).write_text(content, encoding="utf-8")
    cfg = root / "lab.toml"
    cfg.write_text(head + "[[regions]]" + a + "[[regions]]" + b, encoding="utf-8")
    return cfg


def state(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, mtime and inode: a rewrite changes the inode (temp file, then rename)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    return two_region_lab(tmp_path / "lab")


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The regions written by each call of CanonicalStore.write."""
    calls: list[list[str]] = []
    original = CanonicalStore.write

    def counting(self, regions):
        calls.append([key for key, _, _ in regions])
        return original(self, regions)

    monkeypatch.setattr(CanonicalStore, "write", counting)
    return calls


def test_the_store_is_hive_partitioned_parquet_by_region(lab, tmp_path):
    root = tmp_path / "store"
    data = ingest(load_config(lab), store=root)
    for table in ("firms", "membership", "clusters", "orders"):
        for key in ("tiny", "tiny2"):
            assert (root / table / f"region={key}" / "part-0.parquet").is_file()
    firms = ds.dataset(root / "firms", format="parquet", partitioning="hive").to_table().to_pandas()
    assert sorted(firms["region"].astype(str).unique()) == ["tiny", "tiny2"]
    assert len(firms) == 2 * len(data.regions[0].tables["firms"])
    assert not list(root.rglob("*.tmp"))
    manifest = json.loads((root / "_manifest" / "tiny.json").read_text())
    assert manifest["region"] == "tiny" and len(manifest["fingerprint"]) == 64
    assert {s["table"] for s in manifest["sources"]} == {"firms", "membership", "clusters", "orders"}


def test_reingesting_unchanged_files_does_nothing(lab, tmp_path, writes, monkeypatch):
    root = tmp_path / "store"
    first = ingest(load_config(lab), store=root)
    before = state(root)
    assert writes == [["tiny", "tiny2"]]

    def no_reading(*args, **kwargs):
        raise AssertionError("an unchanged region was read again")

    monkeypatch.setattr("policylab.ingest.read_raw", no_reading)
    second = ingest(load_config(lab), store=root)
    assert writes == [["tiny", "tiny2"]]  # no second write
    assert state(root) == before  # same bytes, mtimes and inodes
    for r1, r2 in zip(first.regions, second.regions, strict=True):
        for name in r1.tables:
            pd.testing.assert_frame_equal(r1.tables[name], r2.tables[name])
        assert (r1.sources, r1.conversions, r1.warnings, dict(r1.quality)) == \
            (r2.sources, r2.conversions, r2.warnings, dict(r2.quality))


def test_a_changed_file_replaces_only_its_region(lab, tmp_path, writes):
    root = tmp_path / "store"
    ingest(load_config(lab), store=root)
    before = state(root)
    firms = lab.parent / "b" / "firms.csv"
    firms.write_text(TINY_FIRMS.replace("001;2018;0;100,5;10", "001;2018;0;200;10"), encoding="utf-8")
    data = ingest(load_config(lab), store=root)
    assert writes[-1] == ["tiny2"]
    after = state(root)
    for path, (content, mtime, ino) in before.items():
        if "region=tiny/" in path or path.endswith("tiny.json"):
            assert after[path] == (content, mtime, ino), path  # untouched
        elif "firms/region=tiny2" in path or path.endswith("tiny2.json"):
            assert after[path][2] != ino, path  # replaced
    tiny2 = next(r for r in data.regions if r.info.key == "tiny2").tables["firms"]
    assert tiny2.set_index(["firm_id", "year"]).loc[("001", 2018), "turnover_eur"] == pytest.approx(200 * 1000 / 4)
    stored = pd.read_parquet(root / "firms" / "region=tiny2" / "part-0.parquet")
    pd.testing.assert_frame_equal(stored, tiny2)


def test_a_config_change_of_the_mapping_rewrites_the_region(lab, tmp_path, writes):
    root = tmp_path / "store"
    ingest(load_config(lab), store=root)
    text = lab.read_text()
    lab.write_text(text.replace("scale = 1000", "scale = 1", 1))  # region 'tiny' only (first occurrence)
    ingest(load_config(lab), store=root)
    assert writes[-1] == ["tiny"]


def test_a_failed_ingest_leaves_the_store_untouched(lab, tmp_path, writes):
    root = tmp_path / "store"
    ingest(load_config(lab), store=root)
    before = state(root)
    (lab.parent / "a" / "firms.csv").write_text(TINY_FIRMS.replace("001;2019;0;110", "001;2019;0;x"))
    (lab.parent / "b" / "members.csv").write_text(TINY_MEMBERS + "009,C1,2019,\n")
    with pytest.raises(InputDataError) as err:
        ingest(load_config(lab), store=root)
    assert [str(p) for p in err.value.problems] == [
        "a/firms.csv, row 3, column 'ventas': expected a number (with a decimal comma) (got 'x')",
        "b/members.csv, row 4, column 'firm': firm not found in the firms file (got '009')",
    ]
    assert writes == [["tiny", "tiny2"]]
    assert state(root) == before


def test_a_damaged_part_is_rebuilt_and_removed_regions_are_pruned(lab, tmp_path, writes):
    root = tmp_path / "store"
    ingest(load_config(lab), store=root)
    (root / "orders" / "region=tiny" / "part-0.parquet").write_bytes(b"not parquet")
    ingest(load_config(lab), store=root)
    assert writes[-1] == ["tiny"]
    one = load_config(lab)
    one = one.model_copy(update={"regions": one.regions[:1]})
    ingest(one, store=root)
    assert not (root / "firms" / "region=tiny2").exists()
    assert not (root / "_manifest" / "tiny2.json").exists()
    assert CanonicalStore(root).regions() == ["tiny"]


def test_store_location_and_atomic_writes(tmp_path):
    assert store_dir(tmp_path / "out", None) == tmp_path / "out" / "store"
    assert store_dir(tmp_path / "out", tmp_path / "elsewhere") == tmp_path / "elsewhere"
    dest = tmp_path / "d" / "a.bin"
    atomic_write_many({dest: b"old"})
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(OSError):
        atomic_write_many({dest: b"new", blocker / "b.bin": b"y"})  # a folder that cannot exist
    assert dest.read_bytes() == b"old"
    assert [p.name for p in dest.parent.iterdir()] == ["a.bin"]


def test_evaluate_writes_the_store_once_and_reports_the_same_either_way(tmp_path, writes):
    import policylab

    cfg = write_tiny_lab(tmp_path / "lab")
    cfg.write_text(cfg.read_text().replace('output_dir = "out"', 'output_dir = "out"\nstore_dir = "canonical"'))
    policylab.evaluate(cfg)
    first = (tmp_path / "lab" / "out" / "results.json").read_bytes()
    stored = state(tmp_path / "lab" / "canonical")
    assert "firms/region=tiny/part-0.parquet" in stored
    assert not (tmp_path / "lab" / "out" / "store").exists()
    policylab.evaluate(cfg)
    assert writes == [["tiny"]]
    assert state(tmp_path / "lab" / "canonical") == stored
    assert (tmp_path / "lab" / "out" / "results.json").read_bytes() == first  # fresh and stored data agree
    inputs = json.loads(first)["provenance"]["inputs"]
    assert {(i["region"], i["table"]) for i in inputs} == {("tiny", t) for t in ("firms", "membership", "clusters",
                                                                              "orders")}
    assert all(len(i["sha256"]) == 64 and i["mapping"]["columns"] for i in inputs)


def test_validate_never_writes_the_store(lab, tmp_path):
    _, problems = check_inputs(load_config(lab))
    assert problems == []
    assert not (lab.parent / "out").exists()


def test_store_module_keeps_its_helpers():
    assert store_mod.sha256_file and store_mod.STORE_FORMAT == 1
