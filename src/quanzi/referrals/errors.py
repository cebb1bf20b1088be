"""Referral error codes. A bad or expired share token is refused by the token codec (kit/sharetokens.py);
a sharer who is not an active distributor by distribution's NotADistributor."""

from __future__ import annotations

from enum import StrEnum


class ReferralCode(StrEnum):
    NOT_DISTRIBUTOR = "share.sharer_not_distributor"
