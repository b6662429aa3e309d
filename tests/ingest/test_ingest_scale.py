"""A million firm-years: generated at test time (never committed), read, validated, stored.

One cell near the end is broken first: the problem must name its exact line, so row numbers
stay right at scale. Fixed, the file must ingest into the store.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from corpus_lab import write_base

from policylab.config import load_config
from policylab.errors import InputDataError
from policylab.ingest import ingest

N_FIRMS, YEARS = 100_000, range(2011, 2021)


@pytest.mark.slow
def test_a_million_rows(tmp_path):
    root = tmp_path / "lab"
    cfg = write_base(root)
    cfg.write_text(cfg.read_text().replace('fx = { 2018 = 4.0, 2019 = 4.0, 2020 = 5.0 }',
                                           "fx = { " + ", ".join(f"{y} = 4.0" for y in YEARS) + " }"))
    rng = np.random.default_rng(1)
    n = N_FIRMS * len(YEARS)
    ids = np.repeat(np.arange(N_FIRMS), len(YEARS))
    years = np.tile(np.array(YEARS), N_FIRMS)
    exports = rng.integers(0, 1000, n)
    turnover = exports + rng.integers(1, 100_000, n)
    lines = ["id;anyo;export;ventas;empleados"]
    lines += [f"{i:06d};{y};{e};{t},5;{e % 50}" for i, y, e, t in
              zip(ids.tolist(), years.tolist(), exports.tolist(), turnover.tolist())]
    bad_line = n  # the last-but-one data row (the header is line 1)
    good = lines[bad_line - 1]
    cells = good.split(";")
    lines[bad_line - 1] = ";".join(cells[:3] + ["12abc"] + cells[4:])
    firms = root / "firms.csv"
    firms.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "members.csv").write_text("firm,cluster,joined,left\n000001,C1,2019,\n000002,C1,2019,2020\n")
    (root / "orders.csv").write_text("order,cluster,firm,date,value,dest\nO1,C1,000001,2019-05-02,10,US\n")

    with pytest.raises(InputDataError) as err:
        ingest(load_config(cfg))
    assert [str(p) for p in err.value.problems] == [
        f"firms.csv, row {bad_line}, column 'ventas': expected a number (with a decimal comma) (got '12abc')"
    ]

    lines[bad_line - 1] = good
    firms.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.perf_counter()
    data = ingest(load_config(cfg), store=tmp_path / "store")
    elapsed = time.perf_counter() - start
    table = data.regions[0].tables["firms"]
    assert len(table) == n and table["firm_id"].iloc[0] == "000000"
    assert (tmp_path / "store" / "firms" / "region=tiny" / "part-0.parquet").stat().st_size > 1_000_000
    assert elapsed < 120, f"a million rows took {elapsed:.1f} s"
