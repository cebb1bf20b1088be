"""Account rules: phone numbers, one-time codes, passwords, sessions and roles. Services never commit."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import authcache
from quanzi.accounts.errors import (
    AccountDisabled,
    BadCredentials,
    InvalidPhone,
    PasswordLocked,
    UnknownRole,
    WeakPassword,
)
from quanzi.accounts.models import AuthSession, LoginCode, PasswordThrottle, Role, User, UserRole
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.kit.security import hash_password, new_token, numeric_code, token_hash, verify_password

MAX_CODE_ATTEMPTS = 5


def normalize_phone(raw: str, region: str = "CN") -> str:
    """Parse a phone number (national Chinese numbers by default) into E.164, or refuse it."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 32:
        raise InvalidPhone()
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone() from exc
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone()
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_mobile(raw: str, region: str = "CN") -> str:
    """Like normalize_phone, but only numbers that can receive an SMS (login codes)."""
    e164 = normalize_phone(raw, region)
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidPhone()
    return e164


def mask_phone(e164: str) -> str:
    """+8613812345678 -> 138****5678 (PIPL: shopkeepers see masked numbers without consent)."""
    national = e164[3:] if e164.startswith("+86") else e164
    if len(national) < 7:
        return "****"
    return f"{national[:3]}****{national[-4:]}"


@dataclass(frozen=True)
class Principal:
    """Who is making the request."""

    user_id: int
    phone: str
    nickname: str
    roles: frozenset[str]
    session_id: int
    via: str  # cookie | bearer

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Profile:
    """A person as other people may see them: nickname, avatar and a masked phone (never the number)."""

    user_id: int
    nickname: str
    avatar_url: str | None
    masked_phone: str


async def profiles(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, Profile]:
    """user id → public profile, for pages and reports of other domains (they never read `users`)."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.nickname, User.avatar_url, User.phone, User.show_phone_to_shops)
                                 .where(User.id.in_(ids)))
    # A person who turned off "show my masked number" (the 我的 page's privacy switch) shows none at all.
    return {uid: Profile(uid, nick, avatar, mask_phone(phone) if shown else "")
            for uid, nick, avatar, phone, shown in rows.all()}


async def phone_of(session: AsyncSession, user_id: int) -> str | None:
    """A person's full E.164 number, for rules that must recognise a number (never for display)."""
    return (await session.execute(select(User.phone).where(User.id == user_id))).scalar_one_or_none()


async def shows_phone_to_shops(session: AsyncSession, user_id: int) -> bool:
    return bool((await session.execute(select(User.show_phone_to_shops).where(User.id == user_id))).scalar_one())


async def set_show_phone_to_shops(session: AsyncSession, user_id: int, shown: bool) -> None:
    """The person's consent (PIPL Art. 14) to shopkeepers and distributors seeing their masked number."""
    await session.execute(update(User).where(User.id == user_id).values(show_phone_to_shops=shown))


# --- one-time codes -----------------------------------------------------------------------------

async def issue_login_code(session: AsyncSession, phone: str, ttl_seconds: int) -> str:
    """Create a new code for `phone` (older unused codes stop working). Returns the plain code."""
    now = clock.now()
    await session.execute(
        update(LoginCode).where(LoginCode.phone == phone, LoginCode.used_at.is_(None)).values(used_at=now)
    )
    code = numeric_code(6)
    session.add(LoginCode(phone=phone, code_hash=token_hash(phone + ":" + code), created_at=now,
                          expires_at=now + timedelta(seconds=ttl_seconds), failed_attempts=0))
    return code


async def consume_login_code(session: AsyncSession, phone: str, code: str) -> bool:
    """Accept the code once. A wrong code counts against it (after 5 it is burnt) and returns False;
    the caller commits that count and then refuses the login."""
    now = clock.now()
    row = (await session.execute(
        select(LoginCode)
        .where(LoginCode.phone == phone, LoginCode.used_at.is_(None), LoginCode.expires_at > now)
        .order_by(LoginCode.id.desc())
        .limit(1)
    )).scalar_one_or_none()
    if row is None:
        return False
    if not hmac.compare_digest(row.code_hash, token_hash(phone + ":" + (code or "").strip())):
        burnt = row.failed_attempts + 1 >= MAX_CODE_ATTEMPTS
        await session.execute(
            update(LoginCode).where(LoginCode.id == row.id).values(
                failed_attempts=LoginCode.failed_attempts + 1, used_at=now if burnt else None
            )
        )
        return False
    used = await guarded_update(
        session, update(LoginCode).where(LoginCode.id == row.id, LoginCode.used_at.is_(None)).values(used_at=now)
    )
    return used == 1  # False if a concurrent request used it first


async def live_code(session: AsyncSession, phone: str) -> LoginCode | None:
    """The code a login form may still accept for `phone` (unused, unexpired, not burnt), or None: the page
    keeps the code field open while there is one and counts down to the next send from its creation."""
    return (await session.execute(
        select(LoginCode)
        .where(LoginCode.phone == phone, LoginCode.used_at.is_(None), LoginCode.expires_at > clock.now())
        .order_by(LoginCode.id.desc())
        .limit(1)
    )).scalar_one_or_none()


async def login_with_code(session: AsyncSession, phone: str, code: str, *, kind: str, days: int,
                          ip: str | None) -> tuple[User, str, bool] | None:
    """Consume the code, create the account on first login, start a session. None if the code is bad.
    The third value says whether the account was created just now."""
    if not await consume_login_code(session, phone, code):
        return None
    user, created = await get_or_create_user(session, phone)
    return user, await start_session(session, user, kind, days, ip), created


# --- users and roles ----------------------------------------------------------------------------

async def get_or_create_user(session: AsyncSession, phone: str, nickname: str | None = None) -> tuple[User, bool]:
    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()
    if user is not None:
        return user, False
    now = clock.now()
    inserted = await insert_ignore(
        session, User,
        {"phone": phone, "nickname": nickname or f"用户{phone[-4:]}", "is_active": True, "created_at": now},
        ["phone"],
    )
    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one()
    if inserted:
        await add_role(session, user.id, Role.FAN)
        # "New user" is proven by this event (DOMAIN_RULES §1), not by a registration-age heuristic.
        await outbox.emit(session, "accounts.user_registered", {"user_id": user.id})
    return user, inserted


async def add_role(session: AsyncSession, user_id: int, role: str) -> bool:
    if role not in {r.value for r in Role}:
        raise UnknownRole(role=role)
    authcache.touch(session, user_id)  # the person's cached principal must see the new role at once
    return await insert_ignore(
        session, UserRole, {"user_id": user_id, "role": role, "created_at": clock.now()}, ["user_id", "role"]
    )


async def remove_role(session: AsyncSession, user_id: int, role: str) -> None:
    authcache.touch(session, user_id)
    await session.execute(delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == role))


async def roles_of(session: AsyncSession, user_id: int) -> frozenset[str]:
    rows = await session.execute(select(UserRole.role).where(UserRole.user_id == user_id))
    return frozenset(rows.scalars())


def check_password_strength(password: str) -> None:
    if len(password) < 8 or len(password) > 128:
        raise WeakPassword()


async def set_password(session: AsyncSession, user_id: int, password: str) -> None:
    check_password_strength(password)
    await session.execute(update(User).where(User.id == user_id).values(password_hash=hash_password(password)))


async def authenticate_password(session: AsyncSession, phone: str, password: str) -> User:
    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise BadCredentials()
    if not user.is_active:
        raise AccountDisabled()
    return user


# --- wrong passwords, per account -----------------------------------------------------------------
# A per-IP limit does not stop a guesser who spreads attempts over many addresses, so wrong passwords are
# also counted per phone number. From the 5th in a row, password login for that number pauses: 1 minute,
# then doubling with each further wrong password (2, 4, 8 … minutes, at most a day). A wrong password
# more than a day after the last one starts the count again. Only password login is paused: a one-time
# code always works and a successful login of either kind clears the count, so an attacker can slow
# password guessing down but never lock the owner out.

PASSWORD_FAILURES_BEFORE_LOCK = 5
PASSWORD_LOCK_FIRST = timedelta(minutes=1)
PASSWORD_LOCK_LONGEST = timedelta(days=1)
PASSWORD_FAILURES_FORGOTTEN_AFTER = timedelta(days=1)


def password_lock_for(failures: int) -> timedelta | None:
    """How long password login pauses after `failures` wrong passwords in a row (None: not yet)."""
    if failures < PASSWORD_FAILURES_BEFORE_LOCK:
        return None
    doublings = min(failures - PASSWORD_FAILURES_BEFORE_LOCK, 20)
    return min(PASSWORD_LOCK_FIRST * (2 ** doublings), PASSWORD_LOCK_LONGEST)


async def password_lock_left(session: AsyncSession, phone: str) -> int:
    """Seconds until password login for `phone` is allowed again (0: allowed now)."""
    until = (await session.execute(select(PasswordThrottle.locked_until)
                                   .where(PasswordThrottle.phone == phone))).scalar_one_or_none()
    now = clock.now()
    if until is None or until <= now:
        return 0
    return max(1, int((until - now).total_seconds() + 0.999))


async def check_password_lock(session: AsyncSession, phone: str) -> None:
    if left := await password_lock_left(session, phone):
        raise PasswordLocked(left)


async def record_password_failure(session: AsyncSession, phone: str, ip: str | None) -> int:
    """Count one wrong password for `phone`; if that starts a lock, set it and emit
    `accounts.password_attacked` (for an existing account). Returns the lock's seconds, or 0."""
    now = clock.now()
    await insert_ignore(session, PasswordThrottle, {"phone": phone, "failures": 0, "last_failed_at": now}, ["phone"])
    # Forget an old run of failures (not while a lock still holds), then count this one: each one statement.
    await session.execute(update(PasswordThrottle).where(
        PasswordThrottle.phone == phone, PasswordThrottle.last_failed_at < now - PASSWORD_FAILURES_FORGOTTEN_AFTER,
    ).values(failures=0))
    await session.execute(update(PasswordThrottle).where(PasswordThrottle.phone == phone)
                          .values(failures=PasswordThrottle.failures + 1, last_failed_at=now))
    failures = (await session.execute(select(PasswordThrottle.failures)
                                      .where(PasswordThrottle.phone == phone))).scalar_one()
    lock = password_lock_for(failures)
    if lock is None:
        return 0
    until: datetime = now + lock
    await session.execute(update(PasswordThrottle).where(PasswordThrottle.phone == phone)
                          .values(locked_until=until))
    user_id = (await session.execute(select(User.id).where(User.phone == phone))).scalar_one_or_none()
    if user_id is not None:
        # Stable payload for the notification domain (in-app message / SMS to the account holder).
        await outbox.emit(session, "accounts.password_attacked", {
            "user_id": user_id, "failures": failures, "locked_until": until.isoformat(),
            "lock_seconds": int(lock.total_seconds()), "last_ip": ip or "",
        })
    return int(lock.total_seconds())


async def clear_password_failures(session: AsyncSession, phone: str) -> None:
    await session.execute(delete(PasswordThrottle).where(PasswordThrottle.phone == phone))


# --- sessions -----------------------------------------------------------------------------------

async def start_session(session: AsyncSession, user: User, kind: str, days: int, ip: str | None = None) -> str:
    if not user.is_active:
        raise AccountDisabled()
    token = new_token()
    now = clock.now()
    session.add(AuthSession(token_hash=token_hash(token), user_id=user.id, kind=kind, created_at=now,
                            expires_at=now + timedelta(days=days), ip=ip))
    return token


async def principal_for(session: AsyncSession, token: str, kind: str) -> Principal | None:
    """The person behind a session token, with their roles (uncached: accounts/deps.py caches it)."""
    found = await principal_by_hash(session, token_hash(token), kind)
    return found[0] if found else None


async def principal_by_hash(session: AsyncSession, hashed: str, kind: str) -> tuple[Principal, datetime] | None:
    """(principal, session expiry) in one round trip (a row per role)."""
    now = clock.now()
    rows = (await session.execute(
        select(AuthSession.id, User.id, User.phone, User.nickname, UserRole.role, AuthSession.expires_at)
        .join(User, User.id == AuthSession.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(AuthSession.token_hash == hashed, AuthSession.kind == kind,
               AuthSession.revoked_at.is_(None), AuthSession.expires_at > now, User.is_active.is_(True))
    )).all()
    if not rows:
        return None
    session_id, user_id, phone, nickname, _role, expires_at = rows[0]
    return Principal(user_id=user_id, phone=phone, nickname=nickname,
                     roles=frozenset(r.role for r in rows if r.role is not None), session_id=session_id,
                     via=kind), expires_at


async def end_session(session: AsyncSession, session_id: int) -> None:
    owner = (await session.execute(
        update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now()).returning(AuthSession.user_id)
        .execution_options(auth_touched=True)  # the owner is bumped below, not everyone
    )).scalar_one_or_none()
    if owner is not None:
        authcache.touch(session, owner, next_statement=False)


async def create_operator(session: AsyncSession, phone_raw: str, password: str, nickname: str = "运营") -> User:
    phone = normalize_phone(phone_raw)
    check_password_strength(password)
    user, _ = await get_or_create_user(session, phone, nickname)
    await set_password(session, user.id, password)
    await add_role(session, user.id, Role.OPERATOR)
    return user
