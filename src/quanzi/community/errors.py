"""Refusals of the community domain: each a stable code and a zh/en message."""

from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class CommunityCode(StrEnum):
    NOT_FOUND = "community.not_found"
    CLOSED = "community.closed"
    DISABLED = "community.disabled"
    FULL = "community.full"
    NOT_MEMBER = "community.not_member"
    BANNED = "community.banned"
    NO_PERMISSION = "community.no_permission"
    MUTED = "community.muted"
    ALREADY_MEMBER = "community.already_member"
    PENDING = "community.pending"
    RULES_NOT_ACCEPTED = "community.rules_not_accepted"
    INVITE_REQUIRED = "community.invite_required"
    INVITE_INVALID = "community.invite_invalid"
    INVITE_EXPIRED = "community.invite_expired"
    CAPACITY = "community.capacity_invalid"
    TOO_MANY = "community.too_many"
    MEMBER_NOT_FOUND = "community.member_not_found"
    OWNER_FIXED = "community.owner_fixed"
    POST_NOT_FOUND = "community.post_not_found"
    BLOCKED_WORD = "community.blocked_word"
    EMPTY_POST = "community.empty_post"
    NOT_RECEIVED = "community.order_not_received"
    TOO_MANY_IMAGES = "community.too_many_images"
    ALREADY_REPORTED = "community.already_reported"
    REPORT_NOT_FOUND = "community.report_not_found"


class CommunityNotFound(DomainError):
    status = 404
    code = CommunityCode.NOT_FOUND
    message = {"zh": "社群不存在", "en": "Community not found"}


class CommunityClosed(DomainError):
    status = 409
    code = CommunityCode.CLOSED
    message = {"zh": "这个社群已关闭", "en": "This community has been closed"}


class CommunitiesDisabled(DomainError):
    status = 409
    code = CommunityCode.DISABLED
    message = {"zh": "平台暂未开放社群功能", "en": "Communities are switched off on this platform"}


class CommunityFull(DomainError):
    status = 409
    code = CommunityCode.FULL
    message = {"zh": "社群已满员（{capacity} 人）", "en": "This community is full ({capacity} members)"}


class NotMember(DomainError):
    """404, as for anyone else's object: a community's inside is not shown to those outside it."""

    status = 404
    code = CommunityCode.NOT_MEMBER
    message = {"zh": "加入社群后才能查看和参与", "en": "Join the community to see and take part"}


class Banned(DomainError):
    status = 403
    code = CommunityCode.BANNED
    message = {"zh": "你已被移出并禁止再次加入这个社群", "en": "You were banned from this community and cannot rejoin"}


class NoPermission(DomainError):
    status = 403
    code = CommunityCode.NO_PERMISSION
    message = {"zh": "你在这个社群里没有这项权限", "en": "Your role in this community does not allow this"}


class Muted(DomainError):
    status = 403
    code = CommunityCode.MUTED
    message = {"zh": "你已被禁言，{until} 后可以发言", "en": "You are muted until {until}"}


class AlreadyMember(DomainError):
    status = 409
    code = CommunityCode.ALREADY_MEMBER
    message = {"zh": "你已经是这个社群的成员", "en": "You are already a member of this community"}


class PendingApproval(DomainError):
    status = 409
    code = CommunityCode.PENDING
    message = {"zh": "入群申请已提交，等待群主审核", "en": "Your request to join is waiting for approval"}


class RulesNotAccepted(DomainError):
    status = 422
    code = CommunityCode.RULES_NOT_ACCEPTED
    message = {"zh": "请先阅读并同意群规", "en": "Please read and accept the community rules first"}


class InviteRequired(DomainError):
    status = 403
    code = CommunityCode.INVITE_REQUIRED
    message = {"zh": "这个社群只能通过邀请链接加入", "en": "This community can only be joined through an invite link"}


class InviteInvalid(DomainError):
    status = 400
    code = CommunityCode.INVITE_INVALID
    message = {"zh": "邀请链接无效或已被篡改", "en": "This invite link is invalid or has been altered"}


class InviteExpired(DomainError):
    status = 410
    code = CommunityCode.INVITE_EXPIRED
    message = {"zh": "邀请链接已过期，请向群主索取新链接", "en": "This invite link has expired; ask for a new one"}


class CapacityInvalid(DomainError):
    status = 422
    code = CommunityCode.CAPACITY
    message = {"zh": "人数上限须在 {low} 到 {high} 之间", "en": "The capacity must be between {low} and {high}"}


class TooManyCommunities(DomainError):
    status = 409
    code = CommunityCode.TOO_MANY
    message = {"zh": "每个店铺最多建 {n} 个社群", "en": "A shop may have at most {n} communities"}


class MemberNotFound(DomainError):
    status = 404
    code = CommunityCode.MEMBER_NOT_FOUND
    message = {"zh": "找不到这位成员", "en": "Member not found"}


class OwnerFixed(DomainError):
    status = 409
    code = CommunityCode.OWNER_FIXED
    message = {"zh": "群主不能被移出、禁言或改变角色，也不能退出", "en": "The owner cannot be removed, muted, re-roled or leave"}


class PostNotFound(DomainError):
    status = 404
    code = CommunityCode.POST_NOT_FOUND
    message = {"zh": "帖子不存在", "en": "Post not found"}


class BlockedWord(DomainError):
    status = 422
    code = CommunityCode.BLOCKED_WORD
    message = {"zh": "内容包含不允许的词语：{word}", "en": "The text contains a blocked word: {word}"}


class EmptyPost(DomainError):
    status = 422
    code = CommunityCode.EMPTY_POST
    message = {"zh": "请写点内容或添加图片", "en": "Write something or add a picture"}


class OrderNotReceived(DomainError):
    status = 409
    code = CommunityCode.NOT_RECEIVED
    message = {"zh": "只能晒本店已确认收货的订单", "en": "Only an order of this shop that you have received can be shown"}


class TooManyImages(DomainError):
    status = 422
    code = CommunityCode.TOO_MANY_IMAGES
    message = {"zh": "最多 {n} 张图片", "en": "At most {n} pictures"}


class AlreadyReported(DomainError):
    status = 409
    code = CommunityCode.ALREADY_REPORTED
    message = {"zh": "你已经举报过这条帖子，管理员会尽快处理", "en": "You have already reported this post; the staff will look at it"}


class ReportNotFound(DomainError):
    status = 404
    code = CommunityCode.REPORT_NOT_FOUND
    message = {"zh": "举报不存在", "en": "Report not found"}
