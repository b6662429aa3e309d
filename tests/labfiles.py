"""A tiny but complete lab written as real files (shared by several test modules)."""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_FIRMS = """\
id;anyo;export;ventas;empleados
001;2018;0;100,5;10
001;2019;0;110;10
001;2020;5;120;11
002;2018;1;50;4
002;2019;2;55;4
002;2020;3;60;4
003;2018;0;80;7
003;2019;0;80;7
003;2020;0;85;7
004;2018;;90;9
004;2019;4;95;9
004;2020;6;99;9
"""

TINY_MEMBERS = """\
firm,cluster,joined,left
001,C1,2019,
002,C1,2019,2020
"""

TINY_CLUSTERS = """\
cluster,name,founded,closed
C1,Tiny Consortium,2019,
"""

TINY_ORDERS = """\
order,cluster,firm,date,value,dest
O1,C1,001,2019-05-02,10,US
O2,C1,002,2020-01-15,20,DE
O3,,003,2020-03-01,7,FR
"""

TINY_CONFIG = """\
[lab]
name = "Tiny lab"
output_dir = "out"
min_cell_firms = 1

[estimation]
outcomes = ["exporter", "log_exports"]
leads = 1
lags = 1

[[regions]]
key = "tiny"
name = "Tiny Region"
nuts2 = "ES13"
country = "ES"
currency = "PLN"
fx = {{ 2018 = 4.0, 2019 = 4.0, 2020 = 5.0 }}

[regions.files.firms]
path = "firms.csv"
delimiter = ";"
decimal = ","
scale = 1000
columns = {{ firm_id = "id", year = "anyo", exports_eur = "export", turnover_eur = "ventas", employees = "empleados" }}

[regions.files.membership]
path = "members.csv"
columns = {{ firm_id = "firm", cluster_id = "cluster", join_year = "joined", exit_year = "left" }}

[regions.files.clusters]
path = "clusters.csv"
columns = {{ cluster_id = "cluster", cluster_name = "name", founded_year = "founded", closed_year = "closed" }}

[regions.files.orders]
path = "orders.csv"
columns = {{ order_id = "order", cluster_id = "cluster", firm_id = "firm", order_date = "date", value_eur = "value", destination_country = "dest" }}
{extra}
"""


def write_tiny_lab(root: Path, *, firms: str = TINY_FIRMS, members: str = TINY_MEMBERS, extra: str = "") -> Path:
    """Write the tiny lab's files and config into ``root``; return the config path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "firms.csv").write_text(firms, encoding="utf-8")
    (root / "members.csv").write_text(members, encoding="utf-8")
    (root / "clusters.csv").write_text(TINY_CLUSTERS, encoding="utf-8")
    (root / "orders.csv").write_text(TINY_ORDERS, encoding="utf-8")
    cfg = root / "lab.toml"
    cfg.write_text(textwrap.dedent(TINY_CONFIG.format(extra=extra)), encoding="utf-8")
    return cfg

