"""Who may do what in a community: the permission table, as data (role -> allowed actions).

Speaking actions (`SPEAKING`) are also refused while a member is muted. Higher domains (engagement) check
their own actions through `service.require_permission(s, community_id, user_id, action)`.
"""

from __future__ import annotations

from types import MappingProxyType

# Everything a member may do.
MEMBER_ACTIONS = frozenset({"read", "post", "comment", "like", "report", "view_members", "invite"})
# Moderation and running the community, day to day.
STAFF_ACTIONS = MEMBER_ACTIONS | {
    "post_announcement", "pin", "remove", "ban", "mute", "approve", "review_reports",
    "run_draw", "run_poll", "send_red_packet", "schedule_activity",
}
ACTIONS = STAFF_ACTIONS | {"edit_settings", "manage_roles", "edit_engagement"}

PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    "owner": frozenset(ACTIONS),
    "staff": frozenset(STAFF_ACTIONS),
    # 大咖: a trusted voice who may post announcements and pin their advice.
    "expert": MEMBER_ACTIONS | {"post_announcement", "pin"},
    # 老师: teaches — announcements, polls and the activity calendar.
    "teacher": MEMBER_ACTIONS | {"post_announcement", "run_poll", "schedule_activity"},
    "member": MEMBER_ACTIONS,
})

SPEAKING = frozenset({"post", "comment", "post_announcement"})
# Roles the owner may hand out (there is one owner: the shop's owner).
ASSIGNABLE = ("staff", "expert", "teacher", "member")


def can(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())
