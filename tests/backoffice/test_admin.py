"""The operator back office (sqladmin): operator-only, CSRF-guarded, and every change audited in the
transaction that makes it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import make_user
from sqlalchemy import event, select, text

from quanzi.accounts import service
from quanzi.accounts.models import User, UserRole
from quanzi.audit.models import AuditLog
from quanzi.kit.db import Database
from quanzi.kit.errors import Forbidden

OPERATOR = "13800000001"
PASSWORD = "operator-password"
ORIGIN = {"origin": "http://test"}  # what a browser sends with a form POST from our own page


async def cookie_login(client: httpx.AsyncClient, db: Database, phone: str, *roles: str) -> int:
    user_id, _ = await make_user(db, phone, *roles)
    async with db.write() as s:
        await service.set_password(s, user_id, PASSWORD)
    r = await client.post("/login/password", data={"phone": phone, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return user_id


async def audit_rows(db: Database) -> list[AuditLog]:
    async with db.read() as s:
        return list((await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars())


@pytest.fixture
def statements(db: Database) -> Iterator[list[tuple[str, int, str]]]:
    """Every SQL statement and COMMIT on the app's engine, with the DB-API connection that ran it."""
    log: list[tuple[str, int, str]] = []
    engine = db.engine.sync_engine

    def on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        log.append(("sql", id(conn.connection.dbapi_connection), " ".join(statement.split())))

    def on_commit(conn: Any) -> None:
        log.append(("commit", id(conn.connection.dbapi_connection), ""))

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    yield log
    event.remove(engine, "before_cursor_execute", on_execute)
    event.remove(engine, "commit", on_commit)


def same_transaction(log: list[tuple[str, int, str]], first: str, second: str) -> bool:
    """True if statements starting with `first` and `second` ran on one connection with no COMMIT between."""
    i = next(n for n, (k, _, sql) in enumerate(log) if k == "sql" and sql.upper().startswith(first))
    j = next(n for n, (k, _, sql) in enumerate(log) if k == "sql" and sql.upper().startswith(second))
    a, b = sorted((i, j))
    conn = log[a][1]
    if log[b][1] != conn:
        return False
    between = [e for e in log[a:b] if e[0] == "commit" and e[1] == conn]
    after = [e for e in log[b:] if e[0] == "commit" and e[1] == conn]
    return not between and bool(after)


# --- who gets in ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/user/list", "/admin/audit-log/list"])
async def test_anonymous_is_sent_to_login(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code in (302, 303)
    assert r.headers["location"].startswith("/login?next=")
    assert "/admin/" in httpx.URL(r.headers["location"]).params["next"]


async def test_fan_is_sent_to_login_without_a_redirect_loop(client: httpx.AsyncClient, db: Database) -> None:
    await cookie_login(client, db, "13800000101")
    r = await client.get("/admin/")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?")
    # The login page must not bounce a signed-in fan straight back to /admin/.
    login = await client.get(r.headers["location"])
    assert login.status_code == 403, login.headers.get("location")
    assert Forbidden.message["zh"] in login.text and 'action="/login/password"' in login.text
    r = await client.post(f"/admin/user/edit/1", data={"nickname": "x", "save": "Save"}, headers=ORIGIN)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?")


async def test_bearer_token_does_not_open_the_back_office(client: httpx.AsyncClient, db: Database) -> None:
    _, op = await make_user(db, OPERATOR, "operator")
    r = await client.get("/admin/", headers=op)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?")


async def test_operator_gets_in(client: httpx.AsyncClient, db: Database) -> None:
    await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101", nickname="粉丝甲")
    r = await client.get("/admin/")
    assert r.status_code == 200, r.headers.get("location")
    r = await client.get("/admin/user/list")
    assert r.status_code == 200 and "粉丝甲" in r.text and "+8613800000101" in r.text
    r = await client.get(f"/admin/user/edit/{fan_id}")
    assert r.status_code == 200 and 'name="nickname"' in r.text


async def test_revoked_operator_session_is_locked_out(client: httpx.AsyncClient, db: Database) -> None:
    op_id = await cookie_login(client, db, OPERATOR, "operator")
    assert (await client.get("/admin/")).status_code == 200
    async with db.write() as s:
        await service.remove_role(s, op_id, "operator")
    r = await client.get("/admin/user/list")
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?")


# --- edits are audited ------------------------------------------------------------------------------

async def test_editing_a_user_writes_an_audit_row_in_the_same_transaction(
    client: httpx.AsyncClient, db: Database, statements: list[tuple[str, int, str]],
) -> None:
    op_id = await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101")
    statements.clear()
    # sqladmin's edit form: one input per form column; an unchecked checkbox is simply absent.
    r = await client.post(f"/admin/user/edit/{fan_id}", data={"nickname": "新昵称", "save": "Save"},
                          headers=ORIGIN)
    assert r.status_code == 302, r.text
    assert r.headers["location"].endswith("/admin/user/list")

    async with db.read() as s:
        user = await s.get(User, fan_id)
        assert user is not None and user.nickname == "新昵称" and user.is_active is False
    rows = await audit_rows(db)
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_id, row.action, row.entity, row.entity_id) == (op_id, "update", "users", str(fan_id))
    assert row.changes == {"nickname": ["用户0101", "新昵称"], "is_active": [True, False]}
    assert same_transaction(statements, "UPDATE USERS", "INSERT INTO AUDIT_LOG")
    if db.dialect == "postgresql":  # the two rows carry the same transaction id
        async with db.read() as s:
            xmins = (await s.execute(text(
                "SELECT (SELECT xmin::text FROM users WHERE id = :u), (SELECT xmin::text FROM audit_log WHERE id = :a)"
            ), {"u": fan_id, "a": row.id})).one()
        assert xmins[0] == xmins[1]


async def test_saving_without_changes_writes_no_audit_row(client: httpx.AsyncClient, db: Database) -> None:
    await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101")
    r = await client.post(f"/admin/user/edit/{fan_id}", data={"nickname": "用户0101", "is_active": "y",
                                                             "save": "Save"}, headers=ORIGIN)
    assert r.status_code == 302, r.text
    assert await audit_rows(db) == []


async def test_invalid_edit_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101")
    r = await client.post(f"/admin/user/edit/{fan_id}", data={"nickname": "", "save": "Save"}, headers=ORIGIN)
    assert r.status_code == 400
    async with db.read() as s:
        assert (await s.get(User, fan_id)).nickname == "用户0101"  # type: ignore[union-attr]
    assert await audit_rows(db) == []


async def test_cross_site_edit_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101")
    for headers in ({}, {"origin": "https://evil.example"}, {"origin": "null"},
                    {"referer": "https://evil.example/admin/user/list"}):
        r = await client.post(f"/admin/user/edit/{fan_id}", data={"nickname": "pwned", "save": "Save"},
                              headers=headers)
        assert r.status_code == 403, (headers, r.status_code)
        assert r.json()["error"]["code"] == "auth.csrf_failed"
    r = await client.post(f"/admin/user/edit/{fan_id}", data={"nickname": "ok", "is_active": "y", "save": "Save"},
                          headers={"referer": "http://test/admin/user/edit/1"})
    assert r.status_code == 302
    async with db.read() as s:
        assert (await s.get(User, fan_id)).nickname == "ok"  # type: ignore[union-attr]
    assert [r.changes for r in await audit_rows(db)] == [{"nickname": ["用户0101", "ok"]}]


# --- role grants ------------------------------------------------------------------------------------

async def test_creating_a_role_grant_writes_a_create_audit_row(
    client: httpx.AsyncClient, db: Database, statements: list[tuple[str, int, str]],
) -> None:
    op_id = await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101")
    form = await client.get("/admin/user-role/create")
    assert form.status_code == 200 and 'name="user_id"' in form.text and 'name="role"' in form.text
    statements.clear()
    r = await client.post("/admin/user-role/create", data={"user_id": str(fan_id), "role": "shopkeeper",
                                                           "save": "Save"}, headers=ORIGIN)
    assert r.status_code == 302, r.text
    async with db.read() as s:
        assert await service.roles_of(s, fan_id) == {"fan", "shopkeeper"}
        grant = (await s.execute(select(UserRole).where(UserRole.user_id == fan_id,
                                                        UserRole.role == "shopkeeper"))).scalar_one()
    assert grant.created_at is not None
    rows = await audit_rows(db)
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_id, row.action, row.entity) == (op_id, "create", "user_roles")
    assert row.entity_id == str(grant.id)
    assert row.changes is not None
    assert row.changes["id"] == grant.id and row.changes["user_id"] == fan_id and row.changes["role"] == "shopkeeper"
    assert same_transaction(statements, "INSERT INTO USER_ROLES", "INSERT INTO AUDIT_LOG")


@pytest.mark.parametrize("data", [{"user_id": "2", "role": "superuser"}, {"user_id": "", "role": "fan"},
                                  {"user_id": "abc", "role": "fan"}, {"user_id": "0", "role": "fan"},
                                  {"user_id": "999999", "role": "shopkeeper"}])
async def test_bad_role_grants_are_refused(client: httpx.AsyncClient, db: Database, data: dict[str, str]) -> None:
    await cookie_login(client, db, OPERATOR, "operator")
    await make_user(db, "13800000101")
    r = await client.post("/admin/user-role/create", data={**data, "save": "Save"}, headers=ORIGIN)
    assert r.status_code == 400, r.text
    async with db.read() as s:
        roles = list((await s.execute(select(UserRole.role))).scalars())
    assert sorted(roles) == ["fan", "fan", "operator"]  # the operator and the fan as created
    assert await audit_rows(db) == []


async def test_deleting_a_role_grant_is_audited(client: httpx.AsyncClient, db: Database) -> None:
    op_id = await cookie_login(client, db, OPERATOR, "operator")
    fan_id, _ = await make_user(db, "13800000101", "shopkeeper")
    async with db.read() as s:
        grant_id = (await s.execute(select(UserRole.id).where(UserRole.user_id == fan_id,
                                                              UserRole.role == "shopkeeper"))).scalar_one()
    r = await client.delete(f"/admin/user-role/delete?pks={grant_id}")
    assert r.status_code == 403  # no Origin: refused
    r = await client.delete(f"/admin/user-role/delete?pks={grant_id}", headers=ORIGIN)
    assert r.status_code == 200, r.text
    async with db.read() as s:
        assert await service.roles_of(s, fan_id) == {"fan"}
    rows = await audit_rows(db)
    assert [(a.actor_id, a.action, a.entity, a.entity_id) for a in rows] == [
        (op_id, "delete", "user_roles", str(grant_id))]
    assert rows[0].changes is not None and rows[0].changes["role"] == "shopkeeper"
