"""Waybill CSV files for suppliers: the export of orders to print e-waybills (电子面单) from, and the import of
the tracking numbers that come back, each row judged on its own and shipped through `service.ship`.

The import is per row, never all-or-nothing: every good row ships in its own transaction, every bad row is
reported with a stable code and a zh/en reason and changes nothing. A row that repeats an order already
shipped with the same carrier and number is "unchanged", so a corrected file can be imported again.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from quanzi.kit.console import CHINA
from quanzi.kit.errors import DomainError
from quanzi.orders.models import Order, OrderLine

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
BOM = "\ufeff"  # Excel opens a UTF-8 CSV as Chinese text only with it
# A cell Excel would run as a formula (CSV injection) is written with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# 7.73012E+14: what Excel makes of a long numeric tracking number in a General column, which loses digits.
EXCEL_NUMBER = re.compile(r"^\d+(\.\d+)?E\+\d+$", re.IGNORECASE)

# What suppliers pick from; the stored value is the name buyers in China know.
CARRIERS = ["顺丰速运", "京东物流", "中通快递", "圆通速递", "韵达快递", "申通快递", "极兔速递", "EMS", "邮政快递包裹",
            "德邦快递"]
# Other ways people write the same carriers in a spreadsheet (compared case-insensitively, spaces removed).
CARRIER_ALIASES = {
    "顺丰": "顺丰速运", "顺丰快递": "顺丰速运", "sf": "顺丰速运", "sfexpress": "顺丰速运",
    "京东": "京东物流", "京东快递": "京东物流", "jd": "京东物流", "jdlogistics": "京东物流",
    "中通": "中通快递", "zto": "中通快递", "ztoexpress": "中通快递",
    "圆通": "圆通速递", "圆通快递": "圆通速递", "yto": "圆通速递", "ytoexpress": "圆通速递",
    "韵达": "韵达快递", "韵达速递": "韵达快递", "yunda": "韵达快递", "yundaexpress": "韵达快递",
    "申通": "申通快递", "sto": "申通快递", "stoexpress": "申通快递",
    "极兔": "极兔速递", "极兔快递": "极兔速递", "j&t": "极兔速递", "j&texpress": "极兔速递", "jt": "极兔速递",
    "ems": "EMS", "邮政ems": "EMS", "中国邮政": "邮政快递包裹", "邮政": "邮政快递包裹", "邮政包裹": "邮政快递包裹",
    "chinapostparcel": "邮政快递包裹", "chinapost": "邮政快递包裹",
    "德邦": "德邦快递", "德邦物流": "德邦快递", "deppon": "德邦快递", "depponexpress": "德邦快递",
}

# Export columns: key, English header, Chinese header. The last two are left empty for the import.
COLUMNS = [
    ("order_no", "Order no", "订单号"), ("name", "Consignee", "收货人"), ("phone", "Phone", "手机号"),
    ("region", "Region", "省市区"), ("detail", "Street address", "详细地址"),
    ("address", "Full address", "完整地址"), ("items", "Items", "商品"), ("quantity", "Quantity", "件数"),
    ("note", "Buyer's note", "买家备注"), ("paid_at", "Paid at (China time)", "付款时间"),
    ("carrier", "Carrier", "快递公司"), ("tracking_no", "Tracking no", "快递单号"),
]
# Import headers, compared case-insensitively with spaces and underscores removed.
IMPORT_HEADERS = {
    "order_no": {"订单号", "订单编号", "orderno", "order", "ordernumber"},
    "carrier": {"快递公司", "物流公司", "快递", "carrier", "courier"},
    "tracking_no": {"快递单号", "运单号", "物流单号", "trackingno", "trackingnumber", "tracking", "waybillno"},
}


class WaybillCode(StrEnum):
    FILE_TOO_BIG = "waybill.file_too_big"
    FILE_UNREADABLE = "waybill.file_unreadable"
    FILE_EMPTY = "waybill.file_empty"
    MISSING_COLUMNS = "waybill.missing_columns"
    TOO_MANY_ROWS = "waybill.too_many_rows"
    # Per row:
    MISSING_VALUE = "waybill.missing_value"
    UNKNOWN_ORDER = "waybill.unknown_order"
    NOT_YOURS = "waybill.not_your_order"
    ALREADY_SHIPPED = "waybill.already_shipped"
    NOT_SHIPPABLE = "waybill.not_shippable"
    BAD_CARRIER = "waybill.bad_carrier"
    BAD_TRACKING = "waybill.bad_tracking_no"
    EXCEL_NUMBER = "waybill.tracking_no_mangled"
    DUPLICATE = "waybill.duplicate_row"


class WaybillFileError(DomainError):
    """The file as a whole cannot be read; no row was looked at."""

    status = 422
    code = WaybillCode.FILE_UNREADABLE
    message = {"zh": "无法读取该文件：请上传 CSV 文件（UTF-8 或 GBK 编码）",
               "en": "This file cannot be read: upload a CSV file (UTF-8 or GBK)"}


class FileTooBig(WaybillFileError):
    code = WaybillCode.FILE_TOO_BIG
    message = {"zh": "文件过大：最多 {mb} MB", "en": "The file is too big: at most {mb} MB"}


class FileEmpty(WaybillFileError):
    code = WaybillCode.FILE_EMPTY
    message = {"zh": "文件中没有数据行", "en": "The file has no rows"}


class MissingColumns(WaybillFileError):
    code = WaybillCode.MISSING_COLUMNS
    message = {"zh": "第一行须有列名：订单号、快递公司、快递单号（缺少：{missing}）",
               "en": "The first row must name the columns Order no, Carrier, Tracking no (missing: {missing})"}


class TooManyRows(WaybillFileError):
    code = WaybillCode.TOO_MANY_ROWS
    message = {"zh": "一次最多导入 {n} 行，请拆分文件", "en": "At most {n} rows at once: split the file"}


ROW_MESSAGES: dict[WaybillCode, dict[str, str]] = {
    WaybillCode.MISSING_VALUE: {"zh": "缺少{what}", "en": "{what} is missing"},
    WaybillCode.UNKNOWN_ORDER: {"zh": "没有这个订单号", "en": "No order has this number"},
    WaybillCode.NOT_YOURS: {"zh": "这不是您的订单", "en": "This order is not one of yours"},
    WaybillCode.ALREADY_SHIPPED: {"zh": "订单已发货（{carrier} {tracking_no}），未作更改",
                                  "en": "Already shipped ({carrier} {tracking_no}); nothing changed"},
    WaybillCode.NOT_SHIPPABLE: {"zh": "{reason}", "en": "{reason}"},
    WaybillCode.BAD_CARRIER: {"zh": "不认识的快递公司“{carrier}”，请用：{known}",
                              "en": "Unknown carrier “{carrier}”; use one of: {known}"},
    WaybillCode.BAD_TRACKING: {"zh": "快递单号须为 4–60 位字母、数字或“-”",
                               "en": "Tracking number: 4 to 60 letters, digits or “-”"},
    WaybillCode.EXCEL_NUMBER: {"zh": "快递单号“{value}”已被 Excel 改成科学计数法，丢了位数：请把该列设为文本后重新填写",
                               "en": "Excel turned the tracking number into “{value}” and lost digits: format the "
                                     "column as text and type it again"},
    WaybillCode.DUPLICATE: {"zh": "同一订单出现在第 {lines} 行：请只保留一行",
                            "en": "The same order is on lines {lines}: keep one"},
}


def row_message(code: WaybillCode, lang: str, **detail: Any) -> str:
    return ROW_MESSAGES[code]["en" if lang == "en" else "zh"].format(**detail)


# --- export ------------------------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _phone(phone: str | None) -> str:
    """The digits a courier dials: +8613800000267 -> 13800000267 (other numbers as stored)."""
    p = (phone or "").strip()
    return p[3:] if p.startswith("+86") and len(p) == 14 else p


def export_csv(orders: Sequence[Order], lines: dict[int, list[OrderLine]], lang: str) -> bytes:
    """One row per order, UTF-8 with a BOM; the carrier and tracking-number columns are left for the supplier."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([en if lang == "en" else zh for _k, en, zh in COLUMNS])
    for o in orders:
        a = o.address or {}
        its = lines.get(o.id, [])
        region, detail = str(a.get("region", "")), str(a.get("detail", ""))
        w.writerow([_cell(v) for v in (
            o.order_no, a.get("name", ""), _phone(a.get("phone")), region, detail, f"{region} {detail}".strip(),
            "; ".join(f"{x.title} {x.sku_label} ×{x.quantity}" for x in its), sum(x.quantity for x in its),
            o.note, o.paid_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if o.paid_at else "", "", "")])
    return (BOM + out.getvalue()).encode("utf-8")


# --- import ------------------------------------------------------------------------------------------------

@dataclass
class Row:
    """One data row of an import and what became of it (`outcome`: pending, shipped, unchanged or refused)."""

    line: int
    order_no: str
    carrier: str
    tracking_no: str
    outcome: str = "pending"
    code: WaybillCode | None = None
    message: str = ""

    def refuse(self, code: WaybillCode, lang: str, **detail: Any) -> None:
        self.outcome, self.code, self.message = "refused", code, row_message(code, lang, **detail)


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]", "", header.strip().lstrip(BOM)).lower()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK unless told otherwise
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise WaybillFileError()


def read_rows(data: bytes) -> list[Row]:
    """The data rows of an uploaded file, in file order (line numbers as a spreadsheet shows them)."""
    if len(data) > MAX_BYTES:
        raise FileTooBig(mb=MAX_BYTES // (1024 * 1024))
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise WaybillFileError() from exc
    if not records:
        raise FileEmpty()
    header = [_key(h) for h in records[0]]
    where: dict[str, int] = {}
    for field, names in IMPORT_HEADERS.items():
        for i, h in enumerate(header):
            if h in names:
                where[field] = i
                break
    missing = [f for f in IMPORT_HEADERS if f not in where]
    if missing:
        names = {"order_no": "订单号/Order no", "carrier": "快递公司/Carrier", "tracking_no": "快递单号/Tracking no"}
        raise MissingColumns(missing=", ".join(names[f] for f in missing))
    rows = []
    for n, rec in enumerate(records[1:], start=2):
        if not any(c.strip() for c in rec):
            continue  # blank lines at the end of a spreadsheet

        def get(field: str, rec: list[str] = rec) -> str:
            i = where[field]
            return rec[i].strip().lstrip("'") if i < len(rec) else ""

        rows.append(Row(n, get("order_no"), get("carrier"), get("tracking_no").replace(" ", "")))
        if len(rows) > MAX_ROWS:
            raise TooManyRows(n=MAX_ROWS)
    if not rows:
        raise FileEmpty()
    return rows


def carrier_name(raw: str) -> str | None:
    text = raw.strip()
    if text in CARRIERS:
        return text
    return CARRIER_ALIASES.get(re.sub(r"\s", "", text).lower())


def check_rows(rows: Iterable[Row], lang: str) -> None:
    """What can be judged from the file alone: missing values, carriers, number shapes, repeated orders."""
    rows = list(rows)
    seen = Counter(r.order_no for r in rows if r.order_no)
    for r in rows:
        if not r.order_no:
            r.refuse(WaybillCode.MISSING_VALUE, lang, what="订单号" if lang != "en" else "Order no")
        elif seen[r.order_no] > 1:
            at = ", ".join(str(x.line) for x in rows if x.order_no == r.order_no)
            r.refuse(WaybillCode.DUPLICATE, lang, lines=at)
        elif not r.carrier:
            r.refuse(WaybillCode.MISSING_VALUE, lang, what="快递公司" if lang != "en" else "Carrier")
        elif (name := carrier_name(r.carrier)) is None:
            r.refuse(WaybillCode.BAD_CARRIER, lang, carrier=r.carrier, known="、".join(CARRIERS))
        elif not r.tracking_no:
            r.refuse(WaybillCode.MISSING_VALUE, lang, what="快递单号" if lang != "en" else "Tracking no")
        elif EXCEL_NUMBER.match(r.tracking_no):
            r.refuse(WaybillCode.EXCEL_NUMBER, lang, value=r.tracking_no)
        else:
            r.carrier = name
