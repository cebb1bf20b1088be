"""The kinds of notification: their zh/en texts, default channels, SMS template parameters and links.

A text is a Python format string over the event's parameters (all strings). The message centre stores the
text rendered in the person's language when the event happens; SMS providers get the parameters (the
provider renders its own registered template, named by `QUANZI_SMS_TEMPLATES`), the console provider logs
the rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SMS = "sms"
WECHAT = "wechat"
CHANNELS = (SMS, WECHAT)  # the in-app message centre is always on and never held


@dataclass(frozen=True)
class Kind:
    name: str
    title: dict[str, str]
    body: dict[str, str]
    # SMS template parameters, in the order Tencent Cloud's TemplateParamSet wants them (Aliyun gets a dict).
    sms_params: tuple[str, ...]
    default_channels: frozenset[str] = field(default_factory=frozenset)
    in_app: bool = True  # login codes are never kept in the message centre
    label: dict[str, str] = field(default_factory=dict)


def _k(name: str, label: tuple[str, str], title: tuple[str, str], body: tuple[str, str], sms_params: tuple[str, ...],
       channels: tuple[str, ...] = (WECHAT,), in_app: bool = True) -> Kind:
    return Kind(name, {"zh": title[0], "en": title[1]}, {"zh": body[0], "en": body[1]}, sms_params,
                frozenset(channels), in_app, {"zh": label[0], "en": label[1]})


KINDS: dict[str, Kind] = {k.name: k for k in (
    _k("order_paid", ("订单支付成功", "Order paid"),
       ("订单已支付", "Order paid"),
       ("订单 {order_no} 已支付 {amount}，商家会尽快发货。",
        "Order {order_no}: {amount} paid. The seller will ship it soon."),
       ("order_no", "amount")),
    _k("order_shipped", ("订单已发货", "Order shipped"),
       ("订单已发货", "Your order has shipped"),
       ("订单 {order_no} 已由{carrier}发出，运单号 {tracking_no}。",
        "Order {order_no} shipped with {carrier}, tracking number {tracking_no}."),
       ("order_no", "carrier", "tracking_no"), (SMS, WECHAT)),
    _k("groupbuy_succeeded", ("拼团成功", "Group buy succeeded"),
       ("拼团成功", "Your group buy succeeded"),
       ("你参加的拼团已成团，商品将尽快发货。", "Your group is complete; your order will ship soon."),
       ()),
    _k("groupbuy_failed", ("拼团失败退款", "Group buy failed, refunded"),
       ("拼团未成功，已退款", "Group buy did not succeed: refund on its way"),
       ("{reason}，货款 {amount} 将原路退回。", "{reason}; {amount} will be refunded to how you paid."),
       ("amount",), (SMS, WECHAT)),
    _k("bargain_floor", ("砍价砍到底价", "Bargain reached the floor"),
       ("砍到底价啦", "Your bargain reached the lowest price"),
       ("「{title}」已砍到 {price}，请在 {pay_by} 前下单。",
        "\u201c{title}\u201d is down to {price}. Buy it before {pay_by}."),
       ("price",)),
    _k("flash_next_batch", ("秒杀补货提醒", "Flash sale: next batch"),
       ("你等的商品补货了", "The item you waited for is back"),
       ("「{title}」新一批已开抢，先到先得。", "A new batch of \u201c{title}\u201d is open: first come, first served."),
       ()),
    _k("aftersale_approved", ("售后已同意", "After-sale approved"),
       ("售后申请已同意", "After-sale request approved"),
       ("你的售后申请（{item}）已同意。{next_step}", "Your after-sale request ({item}) was approved. {next_step}"),
       ("item",)),
    _k("aftersale_rejected", ("售后被拒绝", "After-sale rejected"),
       ("售后申请未通过", "After-sale request rejected"),
       ("你的售后申请（{item}）未通过：{reason}", "Your after-sale request ({item}) was rejected: {reason}"),
       ("item",)),
    _k("aftersale_refunded", ("售后已退款", "After-sale refunded"),
       ("退款已到账", "Refund sent"),
       ("售后（{item}）已退款 {amount}，原路退回。", "{amount} for your after-sale ({item}) was refunded to how you paid."),
       ("amount",), (SMS, WECHAT)),
    _k("commission_available", ("佣金可提现", "Commission available"),
       ("佣金已可提现", "Commission ready to withdraw"),
       ("{amount} 佣金已解冻，可以提现了。", "{amount} of commission is unlocked and can be withdrawn."),
       ("amount",)),
    _k("withdrawal_paid", ("提现已到账", "Withdrawal paid"),
       ("提现已到账", "Withdrawal paid"),
       ("你申请的提现 {amount} 已打款。", "Your withdrawal of {amount} has been paid."),
       ("amount",), (SMS, WECHAT)),
    _k("withdrawal_rejected", ("提现被驳回", "Withdrawal rejected"),
       ("提现未通过", "Withdrawal rejected"),
       ("你申请的提现 {amount} 未通过：{reason}。金额已退回可提现余额。",
        "Your withdrawal of {amount} was rejected: {reason}. The money is back in your available balance."),
       ("amount",), (SMS, WECHAT)),
    _k("community_activity", ("社群活动提醒", "Community activity reminder"),
       ("「{community}」活动即将开始", "Coming up in \u201c{community}\u201d"),
       ("{title}将于 {starts_at} 开始，别错过。", "{title} starts at {starts_at}. Don't miss it."),
       ("title", "starts_at")),
    _k("login_code", ("登录验证码", "Login code"),
       ("登录验证码", "Login code"),
       ("【圈子】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。",
        "[Quanzi] Your code is {code}, valid for {minutes} minutes. Do not share it."),
       ("code", "minutes"), (SMS,), in_app=False),
)}

# What a person may switch on or off on the settings page (login codes always go by SMS).
SETTABLE = [k for k in KINDS.values() if k.in_app]


def lang_of(locale: str | None) -> str:
    return "en" if (locale or "").startswith("en") else "zh"


Params = dict[str, "str | dict[str, str]"]


def localized(params: Params, lang: str) -> dict[str, str]:
    """Parameters in one language: a value may itself be {"zh": …, "en": …} (a reason, a next step)."""
    return {k: (v.get(lang, "") if isinstance(v, dict) else str(v)) for k, v in params.items()}


def render(kind: str, lang: str, params: Params) -> tuple[str, str]:
    """(title, body) of `kind` in `lang` ('zh' or 'en'); a missing parameter renders empty."""
    k = KINDS[kind]
    values = _Blank(localized(params, lang))
    return k.title[lang].format_map(values), k.body[lang].format_map(values).strip()


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


# Quiet hours of a person who never chose (minutes after midnight, China time): 22:00 to 08:00.
DEFAULT_QUIET = (22 * 60, 8 * 60)
