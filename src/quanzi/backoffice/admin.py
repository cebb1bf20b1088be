"""The operator back office (sqladmin) behind operator login, every change audited in its transaction.

Generic CRUD is for the platform's own tables only; shopkeeper pages are purpose-built because generic
CRUD cannot enforce per-shop ownership (DESIGN.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI
from sqladmin import Admin, ModelView
from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import COOKIE
from quanzi.accounts.models import AuthSession, Role, User, UserRole
from quanzi.audit.service import AuditedSession, current_actor
from quanzi.backoffice.i18n import N_, i18n_config, localize
from quanzi.audit.models import AuditLog
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.errors import CsrfFailed
from quanzi.kit.outbox import OutboxMessage
from quanzi.kit.web import error_response
from quanzi.orders.models import Order
from quanzi.payments.models import Refund

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def same_origin(request: Request) -> bool:
    """CSRF guard for the back office: sqladmin's forms carry no token, so an unsafe request must come
    from a page of this site (browsers send Origin on every POST/DELETE; Referer as a fallback).
    Only host[:port] is compared, so a TLS-terminating proxy in front does not break it."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == (request.headers.get("host") or request.url.netloc).lower()

# Domains append their ModelViews here when they land.
VIEWS: list[type[ModelView]] = []


class OperatorAuth(AuthenticationBackend):
    """Reuses Quanzi's own cookie session: only operators get in."""

    def __init__(self, secret_key: str, db: Database) -> None:
        super().__init__(secret_key)
        self.db = db

    async def login(self, request: Request) -> bool:
        return False  # logging in happens on /login

    async def logout(self, request: Request) -> bool:
        return True

    async def authenticate(self, request: Request) -> Response | bool:
        token = request.cookies.get(COOKIE)
        principal = None
        if token:
            async with self.db.read() as s:
                principal = await accounts.principal_for(s, token, "cookie")
        if principal is None or not principal.has("operator"):
            query = {"next": request.url.path}
            if principal is not None:
                # Signed in without the role: the login page offers another account instead of
                # bouncing straight back here (which looped /admin/ <-> /login forever).
                query["need"] = "operator"
            return RedirectResponse(f"/login?{urlencode(query)}", status_code=303)
        if request.method not in SAFE_METHODS and not same_origin(request):
            return error_response(request, CsrfFailed())
        current_actor.set(principal.user_id)
        return True


class UserAdmin(ModelView, model=User):
    name, name_plural, icon = N_("User"), N_("Users"), "fa-solid fa-user"
    column_list = [User.id, User.phone, User.nickname, User.is_active, User.created_at]
    column_searchable_list = [User.phone, User.nickname]
    column_details_exclude_list = [User.password_hash]
    form_columns = [User.nickname, User.is_active]
    can_create = False
    can_delete = False


class UserRoleForm(Form):
    """The scaffolded form left out user_id (a foreign key), took any text as a role and asked for
    created_at: a grant could not be created at all, and an unknown role would have been accepted."""

    user_id = IntegerField(N_("User ID"), validators=[InputRequired(), NumberRange(min=1)])
    role = SelectField(N_("Role"), choices=[(r.value, r.value) for r in Role], validators=[InputRequired()])


class UserRoleAdmin(ModelView, model=UserRole):
    name, name_plural, icon = N_("Role grant"), N_("Role grants"), "fa-solid fa-id-badge"
    column_list = [UserRole.id, UserRole.user_id, UserRole.role, UserRole.created_at]
    column_searchable_list = [UserRole.role]
    form = UserRoleForm
    can_edit = False

    async def on_model_change(self, data: dict, model: Any, is_created: bool, request: Request) -> None:
        if is_created:
            model.created_at = clock.now()


class SessionAdmin(ModelView, model=AuthSession):
    name, name_plural, icon = N_("Login session"), N_("Login sessions"), "fa-solid fa-key"
    column_list = [AuthSession.id, AuthSession.user_id, AuthSession.kind, AuthSession.created_at,
                   AuthSession.expires_at, AuthSession.revoked_at, AuthSession.ip]
    column_details_exclude_list = [AuthSession.token_hash]
    form_columns = [AuthSession.revoked_at]
    can_create = False
    can_delete = False


class OutboxAdmin(ModelView, model=OutboxMessage):
    name, name_plural, icon = N_("Outbox message"), N_("Outbox"), "fa-solid fa-envelope"
    column_list = [OutboxMessage.id, OutboxMessage.topic, OutboxMessage.handler, OutboxMessage.status,
                   OutboxMessage.attempts, OutboxMessage.next_attempt_at, OutboxMessage.last_error]
    column_searchable_list = [OutboxMessage.topic, OutboxMessage.status]
    form_columns = [OutboxMessage.status, OutboxMessage.next_attempt_at]  # re-queue a dead letter
    can_create = False
    can_delete = False


class AuditAdmin(ModelView, model=AuditLog):
    name, name_plural, icon = N_("Audit entry"), N_("Audit log"), "fa-solid fa-clipboard-list"
    column_list = [AuditLog.id, AuditLog.at, AuditLog.actor_id, AuditLog.action, AuditLog.entity,
                   AuditLog.entity_id, AuditLog.changes]
    column_default_sort = [(AuditLog.id, True)]
    can_create = can_edit = can_delete = False


class OrderAdmin(ModelView, model=Order):
    """Read-only: an order changes state only through the orders service (payments, shipping, refunds)."""

    name, name_plural, icon = N_("Order"), N_("Orders"), "fa-solid fa-receipt"
    column_list = [Order.id, Order.order_no, Order.status, Order.kind, Order.buyer_id, Order.supplier_id,
                   Order.shop_id, Order.total_fen, Order.refunded_fen, Order.created_at, Order.paid_at]
    column_details_exclude_list = [Order.address]  # the buyer's address stays in the supplier's console
    column_searchable_list = [Order.order_no, Order.status]
    column_sortable_list = [Order.id, Order.total_fen, Order.created_at, Order.paid_at]
    column_default_sort = [(Order.id, True)]
    can_create = can_edit = can_delete = False


class RefundAdmin(ModelView, model=Refund):
    """Read-only: refunds are made by after-sales and campaign rules, never typed in here."""

    name, name_plural, icon = N_("Refund"), N_("Refunds"), "fa-solid fa-rotate-left"
    column_list = [Refund.id, Refund.out_refund_no, Refund.order_id, Refund.amount_fen, Refund.status,
                   Refund.reason, Refund.created_at, Refund.done_at]
    column_searchable_list = [Refund.out_refund_no, Refund.status]
    column_default_sort = [(Refund.id, True)]
    can_create = can_edit = can_delete = False


def mount_admin(app: FastAPI, db: Database, secret_key: str) -> Admin:
    session_maker: Any = async_sessionmaker(
        db.engine.execution_options(quanzi_write=True), expire_on_commit=False, sync_session_class=AuditedSession
    )
    admin = Admin(app, session_maker=session_maker, base_url="/admin", title="圈子 · 运营后台",
                  authentication_backend=OperatorAuth(secret_key, db), i18n_config=i18n_config())
    for view in [UserAdmin, UserRoleAdmin, SessionAdmin, OutboxAdmin, AuditAdmin, OrderAdmin, RefundAdmin, *VIEWS]:
        admin.add_view(localize(view))
    return admin
