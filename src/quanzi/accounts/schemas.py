from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import In, Out

PhoneStr = Annotated[str, Field(min_length=3, max_length=32)]


class CodeRequestIn(In):
    phone: PhoneStr


class CodeRequestOut(Out):
    sent: bool
    expires_in: int


class CodeLoginIn(In):
    phone: PhoneStr
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


class PasswordLoginIn(In):
    phone: PhoneStr
    password: Annotated[str, Field(min_length=1, max_length=128)]


class PasswordIn(In):
    password: Annotated[str, Field(min_length=8, max_length=128)]


class MeOut(Out):
    id: int
    phone: str
    nickname: str
    roles: list[str]


class TokenOut(Out):
    token: str
    token_type: str = "bearer"
    user: MeOut
