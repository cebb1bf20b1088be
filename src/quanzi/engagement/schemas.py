from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from quanzi.kit.schemas import Fen, Id, In, Out

Points = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Short = Annotated[str, Field(min_length=1, max_length=60)]


class SettingsIn(In):
    checkin_enabled: bool | None = None
    checkin_cycle: Literal["week", "month", "none"] | None = None
    checkin_rewards: Annotated[list[Annotated[int, Field(strict=True, ge=0, le=10_000)]],
                               Field(min_length=1, max_length=31)] | None = None
    draws_enabled: bool | None = None
    red_packets_enabled: bool | None = None
    polls_enabled: bool | None = None
    poll_results_for_members: bool | None = None
    invite_enabled: bool | None = None
    invite_reward_points: Annotated[int, Field(strict=True, ge=0, le=100_000)] | None = None
    invite_daily_cap: Annotated[int, Field(strict=True, ge=0, le=100)] | None = None


class SettingsOut(Out):
    community_id: int
    checkin_enabled: bool
    checkin_cycle: str
    checkin_rewards: list[int]
    draws_enabled: bool
    red_packets_enabled: bool
    polls_enabled: bool
    poll_results_for_members: bool
    invite_enabled: bool
    invite_reward_points: int
    invite_daily_cap: int


class CheckInStatusOut(Out):
    checked_today: bool
    streak: int
    next_points: int
    table: list[int]
    cycle: str
    days_this_month: list[str]
    points: int


class CheckInOut(Out):
    day: date
    streak: int
    points: int
    balance: int


class PointsLineOut(Out):
    id: int
    points: int
    kind: str
    reason: str
    at: datetime


class PointsOut(Out):
    shop_id: int
    balance: int
    history: list[PointsLineOut]
    next_before: int | None


class PrizeInModel(In):
    name: Short
    kind: Literal["points", "goods", "nothing"]
    chance_bp: Annotated[int, Field(strict=True, ge=0, le=10_000)]
    stock: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
    points: Points = 0
    value_fen: Fen = 0


class DrawIn(In):
    title: Short
    rules: Annotated[str, Field(min_length=1, max_length=4000)]
    cost_points: Points
    per_person_limit: Annotated[int, Field(strict=True, ge=1, le=100)]
    ends_at: datetime
    prizes: Annotated[list[PrizeInModel], Field(min_length=1, max_length=12)]


class PrizeOut(Out):
    id: int
    name: str
    kind: str
    points: int
    value_fen: int
    chance_bp: int
    stock: int
    remaining: int


class WinnerOut(Out):
    nickname: str
    masked_phone: str
    prize_name: str
    at: datetime


class DrawOut(Out):
    id: int
    community_id: int
    title: str
    rules: str
    rules_digest: str | None
    cost_points: int
    per_person_limit: int
    status: str
    ends_at: datetime
    opened_at: datetime | None
    entries: int
    prizes: list[PrizeOut]
    winners: list[WinnerOut]
    my_entries: int | None = None


class EntryOut(Out):
    entry_id: int
    prize_kind: str
    prize_name: str
    points_won: int
    entries_left: int
    balance: int


class PacketIn(In):
    total_points: Annotated[int, Field(strict=True, ge=1, le=10_000_000)]
    parts: Annotated[int, Field(strict=True, ge=1, le=500)]
    split: Literal["fixed", "lucky"]
    greeting: Annotated[str, Field(max_length=60)] = ""
    from_shop: bool = False


class GrabOut(Out):
    points: int
    position: int
    balance: int


class PacketOut(Out):
    id: int
    community_id: int
    sender_id: int
    funded_by: str
    split: str
    greeting: str
    total_points: int
    parts: int
    grabbed_parts: int
    status: str
    expires_at: datetime
    grabs: list[GrabOut]
    my_points: int | None = None


class PollIn(In):
    question: Annotated[str, Field(min_length=1, max_length=200)]
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=80)]], Field(min_length=2, max_length=10)]
    multiple: bool = False
    anonymous: bool = False
    closes_at: datetime


class AnswerIn(In):
    option_ids: Annotated[list[Id], Field(min_length=1, max_length=10)]


class OptionOut(Out):
    id: int
    label: str
    votes: int | None


class PollOut(Out):
    id: int
    community_id: int
    question: str
    multiple: bool
    anonymous: bool
    closes_at: datetime
    closed: bool
    answers: int
    answered: bool
    results_visible: bool
    options: list[OptionOut]


class ActivityIn(In):
    kind: Literal["drop", "live_qa", "draw", "checkin_week", "other"]
    title: Short
    starts_at: datetime
    remind_minutes: Annotated[int, Field(strict=True, ge=0, le=10_080)] = 60
    repeat: Annotated[int, Field(strict=True, ge=1, le=12)] = 1
    every_days: Annotated[int, Field(strict=True, ge=1, le=365)] | None = None


class ActivityOut(Out):
    id: int
    community_id: int
    kind: str
    title: str
    starts_at: datetime
    remind_at: datetime


class CalendarOut(Out):
    cadence_days: int
    activities: list[ActivityOut]


class HealthDayOut(Out):
    day: str
    active_members: int
    posts: int
    checkins: int
    visitors: int
    buyers: int
    conversion_bp: int


class HealthOut(Out):
    community_id: int
    days: list[HealthDayOut]
