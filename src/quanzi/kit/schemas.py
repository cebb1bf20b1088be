"""Base request/response models: unknown fields rejected, strict types (no "1" for 1, no true for 1)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Money, quantities and ids: strict integers in sane ranges.
Fen = Annotated[int, Field(strict=True, ge=0, le=10**11)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=9999)]
Id = Annotated[int, Field(strict=True, ge=1, le=2**53)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
