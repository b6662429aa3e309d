"""Spreadsheets with stable bytes: the same workbook gives the same ``.xlsx`` file.

openpyxl stamps the document properties and every zip member with the current time; here
both carry :data:`XLSX_TIMESTAMP` instead, so a report regenerated from the same inputs is
byte-identical.
"""

from __future__ import annotations

import datetime as _dt
import io
import zipfile
from typing import Any

__all__ = ["XLSX_TIMESTAMP", "workbook_bytes"]

#: The fixed creation/modification time of every workbook policylab writes.
XLSX_TIMESTAMP = _dt.datetime(2026, 11, 27, 0, 0, 0)


def workbook_bytes(wb: Any, *, creator: str = "policylab") -> bytes:
    """The ``.xlsx`` bytes of openpyxl workbook ``wb`` with fixed timestamps."""
    from openpyxl.writer.excel import ExcelWriter

    wb.properties.creator = creator
    wb.properties.created = XLSX_TIMESTAMP
    wb.properties.modified = XLSX_TIMESTAMP
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    # Rewrite the zip with fixed member timestamps, so the bytes are stable too.
    out = io.BytesIO()
    stamp = XLSX_TIMESTAMP.timetuple()[:6]
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()
