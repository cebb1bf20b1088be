from __future__ import annotations

from pydantic import Field, StrictBool

from quanzi.kit.schemas import In, Out


class PrivacyIn(In):
    show_phone_to_shops: StrictBool = Field(
        description="Shopkeepers and distributors the person buys through may see the masked number (138****5678)")


class PrivacyOut(Out):
    show_phone_to_shops: bool
