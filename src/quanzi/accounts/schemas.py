from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from quanzi.kit.schemas import In, Out

# `In` strips whitespace *before* checking lengths, so the documented minLength would not be what the
# server enforces ("\t12" is 3 characters to the OpenAPI, 2 to the validator). Phones are trimmed by
# service.normalize_phone; passwords are secrets and are used exactly as typed — the login page, the CLI
# and the API must all hash the same string.
AsTyped = StringConstraints(strip_whitespace=False)
PhoneStr = Annotated[str, AsTyped, Field(min_length=3, max_length=32)]


class CodeRequestIn(In):
    phone: PhoneStr


class CodeRequestOut(Out):
    sent: bool
    expires_in: int


class CodeLoginIn(In):
    phone: PhoneStr
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]
    # The share link the person arrived through, if any (binds them to the sharer on login).
    share_token: Annotated[str, Field(max_length=120)] | None = None


class PasswordLoginIn(In):
    phone: PhoneStr
    password: Annotated[str, AsTyped, Field(min_length=1, max_length=128)]


class PasswordIn(In):
    password: Annotated[str, AsTyped, Field(min_length=8, max_length=128)]


class MeOut(Out):
    id: int
    phone: str
    nickname: str
    roles: list[str]


class TokenOut(Out):
    token: str
    token_type: str = "bearer"
    user: MeOut
