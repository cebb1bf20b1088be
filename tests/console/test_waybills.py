"""Waybill CSV: suppliers export paid unshipped orders (UTF-8 with BOM, Excel-safe) and import tracking numbers,
each row shipped or refused on its own with a stable code."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from sqlalchemy import update

from quanzi.kit.clock import clock
from quanzi.orders import waybills
from quanzi.orders.models import Order
from tests.console.helpers import browser, place
from tests.factories import add_supplier, make_world

SF = "顺丰速运"


async def _order(db, order_id: int) -> Order:  # noqa: ANN001
    async with db.read() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return order


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def _upload(b, text: str, *, encoding: str = "utf-8-sig"):  # noqa: ANN001, ANN202
    files = {"file": ("tracking.csv", text.encode(encoding), "text/csv")}
    return await b.client.post("/console/fulfilment/tracking", data={"csrf_token": b.csrf}, files=files)


def _report(html: str) -> dict[int, tuple[str, str]]:
    return {int(line): (outcome, code) for line, outcome, code in re.findall(
        r'data-testid="import-row" data-line="(\d+)" data-outcome="(\w+)" data-code="([^"]*)"', html)}


async def test_export_has_paid_unshipped_orders_of_the_supplier_only(app, db, client) -> None:  # noqa: ANN001
    clock.set(datetime(2025, 6, 18, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    w = await make_world(db)
    first = await place(client, w, [(w.sku_ids[0], 2), (w.sku_ids[1], 1)])
    await place(client, w, [(w.sku_ids[0], 1)], paid=False)
    shipped = await place(client, w, [(w.sku_ids[1], 1)])
    early = await place(client, w, [(w.sku_ids[1], 1)])
    other = await add_supplier(db, "13700000009", code_prefix="MG")
    theirs = await place(client, w, [(other.sku_ids[0], 1)], shop=False)
    async with db.write() as s:
        await s.execute(update(Order).where(Order.id == first["id"]).values(note="=HYPERLINK(\"x\") 请放门口"))
        # 23:30 on the 16th in Shanghai (15:30 UTC): outside a range starting on the 17th.
        await s.execute(update(Order).where(Order.id == early["id"])
                        .values(paid_at=datetime(2025, 6, 16, 15, 30, tzinfo=UTC)))
    sup = await browser(app, db, "13700000001")
    r = await sup.get("/console/fulfilment")
    assert 'data-testid="export-form"' in r.text and 'data-testid="import-form"' in r.text
    await sup.submit(f"/console/fulfilment/{shipped['id']}/ship", {"carrier": SF, "tracking_no": "SF100200300"})

    r = await sup.get("/console/fulfilment/waybills.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _rows(r.content)
    assert rows[0][:3] == ["订单号", "收货人", "手机号"] and rows[0][-2:] == ["快递公司", "快递单号"]
    by_no = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_no) == {first["order_no"], early["order_no"]}  # not unpaid, shipped or another supplier's
    row = by_no[first["order_no"]]
    assert row["收货人"] == "张三" and row["手机号"] == "13900000001"
    assert row["完整地址"] == "上海市 浦东新区 世纪大道 100 号"
    assert row["件数"] == "3" and "云南高原苹果 1斤装 ×2" in row["商品"] and "2斤装 ×1" in row["商品"]
    assert row["买家备注"].startswith("'=HYPERLINK")  # never a live formula in Excel
    assert row["付款时间"] == "2025-06-18 10:00"

    r = await sup.get("/console/fulfilment/waybills.csv?from=2025-06-17&to=2025-06-18")
    assert [x[0] for x in _rows(r.content)[1:]] == [first["order_no"]]
    r = await sup.get("/console/fulfilment/waybills.csv?status=shipped")
    assert [x[0] for x in _rows(r.content)[1:]] == [shipped["order_no"]]
    r = await sup.get("/console/fulfilment/waybills.csv?from=2025-06-18&to=2025-06-01", follow_redirects=True)
    assert 'data-testid="flash"' in r.text
    en = await sup.client.get("/console/fulfilment/waybills.csv?lang=en")
    assert _rows(en.content)[0][:3] == ["Order no", "Consignee", "Phone"]
    assert theirs["order_no"] not in en.text
    await sup.close()


async def test_import_ships_good_rows_and_reports_each_bad_one(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    a, b, c, d = [await place(client, w, [(w.sku_ids[0], 1)]) for _ in range(4)]
    done = await place(client, w, [(w.sku_ids[1], 1)])
    unpaid = await place(client, w, [(w.sku_ids[1], 1)], paid=False)
    other = await add_supplier(db, "13700000009", code_prefix="MG")
    theirs = await place(client, w, [(other.sku_ids[0], 1)], shop=False)
    sup = await browser(app, db, "13700000001")
    await sup.get("/console/fulfilment")
    await sup.submit(f"/console/fulfilment/{done['id']}/ship", {"carrier": SF, "tracking_no": "SF900"})

    text = "\n".join([
        "订单号,收货人,快递公司,快递单号",
        f"{a['order_no']},张三,顺丰,SF 1001 2002",           # 2: shipped (alias, spaces dropped)
        "QZ0000000000000000,张三,顺丰速运,SF1",             # 3: unknown order
        f"{theirs['order_no']},张三,顺丰速运,SF1003",        # 4: another supplier's
        f"{done['order_no']},张三,顺丰速运,SF1004",          # 5: already shipped, another number
        f"{done['order_no'].lower()},张三,,",                  # 6: unknown (order numbers are exact)
        f"{b['order_no']},张三,随便快递,SF1005",             # 7: unknown carrier
        f"{c['order_no']},张三,ZTO,7.73012E+14",             # 8: Excel mangled the number
        f"{d['order_no']},张三,中通快递,ZT1006",             # 9 and 10: the same order twice
        f"{d['order_no']},张三,中通快递,ZT1007",
        f"{unpaid['order_no']},张三,顺丰速运,SF1008",        # 11: not paid: the ship service refuses
        f"{b['order_no']}x,张三,顺丰速运,!!",               # 12: unknown order (looked up before the number)
        ",张三,顺丰速运,SF1009",                             # 13: no order number
        "",
    ])
    r = await _upload(sup, text)
    assert r.status_code == 200, r.text[-2000:]
    rep = _report(r.text)
    W = waybills.WaybillCode
    assert rep == {
        2: ("shipped", ""), 3: ("refused", W.UNKNOWN_ORDER), 4: ("refused", W.NOT_YOURS),
        5: ("refused", W.ALREADY_SHIPPED), 6: ("refused", W.MISSING_VALUE), 7: ("refused", W.BAD_CARRIER),
        8: ("refused", W.EXCEL_NUMBER), 9: ("refused", W.DUPLICATE), 10: ("refused", W.DUPLICATE),
        11: ("refused", W.NOT_SHIPPABLE), 12: ("refused", W.UNKNOWN_ORDER), 13: ("refused", W.MISSING_VALUE),
    }
    shipped = await _order(db, a["id"])
    assert (shipped.status, shipped.carrier, shipped.tracking_no) == ("shipped", SF, "SF10012002")
    for o in (b, c, d, unpaid, theirs):
        assert (await _order(db, o["id"])).status in ("paid", "pending_payment")
    assert (await _order(db, done["id"])).tracking_no == "SF900"  # never overwritten
    assert "同一订单出现在第 9, 10 行" in r.text and "这不是您的订单" in r.text

    # The fixed file again, saved by Excel in GBK: a's row is unchanged, the others ship.
    text = "\n".join([
        "订单号,快递公司,快递单号",
        f"{a['order_no']},顺丰速运,SF10012002",
        f"{b['order_no']},圆通,YT1005",
        f"{c['order_no']},中通快递,773012345678901",
        f"{d['order_no']},中通快递,ZT1007",
    ])
    r = await _upload(sup, text, encoding="gb18030")
    assert _report(r.text) == {2: ("unchanged", W.ALREADY_SHIPPED), 3: ("shipped", ""), 4: ("shipped", ""),
                               5: ("shipped", "")}
    assert (await _order(db, c["id"])).tracking_no == "773012345678901"
    assert (await _order(db, b["id"])).carrier == "圆通速递"
    await sup.close()


async def test_import_file_problems_change_nothing(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    a = await place(client, w, [(w.sku_ids[0], 1)])
    sup = await browser(app, db, "13700000001")
    await sup.get("/console/fulfilment")
    for text, needle in ((f"{a['order_no']},顺丰速运,SF1\n", "缺少：订单号"),        # no header row
                         ("订单号,快递公司\n" + f"{a['order_no']},顺丰速运\n", "缺少：快递单号"),
                         ("订单号,快递公司,快递单号\n", "没有数据行"),
                         ("", "没有数据行")):
        r = await _upload(sup, text)
        assert r.status_code == 422 and 'data-testid="import-error"' in r.text, text
        assert needle in r.text, (text, re.search(r'data-testid="import-error">([^<]*)', r.text))
    files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "image/png")}
    r = await sup.client.post("/console/fulfilment/tracking", data={"csrf_token": sup.csrf}, files=files)
    assert r.status_code == 422 and "无法读取该文件" in r.text
    big = "订单号,快递公司,快递单号\n" + "\n".join(f"QZ{i},顺丰速运,SF{i:06d}" for i in range(waybills.MAX_ROWS + 1))
    r = await _upload(sup, big)
    assert r.status_code == 422 and "一次最多导入" in r.text
    # English headers and messages.
    en = await sup.client.post("/console/fulfilment/tracking?lang=en", data={"csrf_token": sup.csrf}, files={"file": ("t.csv", b"Order no,Carrier,Tracking no\nQZ1,SF,SF1\n", "text/csv")})
    assert _report(en.text) == {2: ("refused", waybills.WaybillCode.UNKNOWN_ORDER)}
    assert "No order has this number" in en.text
    assert (await _order(db, a["id"])).status == "paid"
    # A fan may not import at all.
    fan = await browser(app, db, "13900000001")
    r = await _upload(fan, "订单号,快递公司,快递单号\n" + f"{a['order_no']},顺丰速运,SF1234\n")
    assert r.status_code == 403
    assert (await _order(db, a["id"])).status == "paid"
    await sup.close()
    await fan.close()
