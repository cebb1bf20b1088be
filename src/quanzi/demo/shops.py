"""Demo shops: each demo shopkeeper's open shop (name, intro, round avatar) and a shelf of 8–15 products,
each with the shopkeeper's own recommendation line.

Missing shops are opened and a missing avatar is set. A shelf is filled when it is empty (the shop was
just opened); after that it belongs to the shopkeeper, so what they removed or reordered stays so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.demo import images
from quanzi.kit.clock import clock
from quanzi.shops import service as shops
from quanzi.shops.models import ShelfItem

SHOPS_DAYS_AGO = 44


@dataclass(frozen=True)
class ShopSpec:
    name: str
    intro: str
    shelf: tuple[tuple[str, str], ...]  # (product code, recommendation), in shelf order
    weight: float  # share of the order history that goes through this shop

    def avatar_name(self, index: int) -> str:
        return f"demo-shop-{index + 1}"


# In the order of seed.SHOPKEEPERS.
SHOPS: tuple[ShopSpec, ...] = (
    ShopSpec(
        "小美的好物铺",
        "90后上班族小美，只推荐自己用过、吃过、觉得好的东西。每周上新，欢迎常来逛~",
        (
            ("FR01", "每年冬天必囤的橙子，剥开满手香，我家一周就能吃完一箱"),
            ("FR03", "芒果控闭眼入!这几天刚降价，趁机多囤两箱"),
            ("FR05", "草莓季限定，个头大、奶香足，送人也很有面子"),
            ("SN02", "办公室抽屉常备，一天一包刚刚好"),
            ("SN03", "追剧零食首选，酸甜不腻，一不小心就吃完一袋"),
            ("SN04", "小朋友和大朋友都爱的冻干草莓，脆脆的"),
            ("TE04", "下午泡一朵玫瑰花冠，整个工位都是香的"),
            ("PC01", "敏感肌也能用的洗面奶，我已经回购第三支了"),
            ("PC04", "秋冬干皮救星，涂完一整天不紧绷，现在比之前便宜了"),
            ("PC05", "护手霜礼盒，送闺蜜送同事都合适"),
            ("HM01", "凝珠一颗搞定一桶衣服，香味淡淡的很舒服"),
            ("HM05", "可以刻名字的香薰蜡烛，生日礼物不知道送啥就选它"),
        ),
        1.0,
    ),
    ShopSpec(
        "阿杰团长",
        "阿杰社区团购，服务小区邻居三年啦。产地直发、价格实在，有任何问题随时找我!",
        (
            ("FR01", "小区团购爆款，上周一天走了80箱，甜度有保障"),
            ("FR04", "脆甜红富士，老人小孩都爱吃，10斤礼盒过节送人正好"),
            ("FR06", "果冻橙果肉嫩得像果冻，尝过的邻居都回购了"),
            ("FR08", "沃柑性价比之王，9斤装一家人能吃一周"),
            ("FR10", "徐香猕猴桃放两天软了最甜，记得和苹果放一起催熟"),
            ("FR09", "榴莲爱好者冲!开得不好找我，包售后"),
            ("FR07", "JJ级车厘子个头大，这周降价，过年走亲戚拿得出手"),
            ("SN01", "若羌灰枣煮粥泡水都好，家里老人点名要"),
            ("GR01", "紫米煮粥软糯香甜，加几颗红枣更好"),
            ("GR02", "高原蜂蜜，早上一杯蜂蜜水，我自己天天喝"),
            ("HM01", "洗衣凝珠大包装，团购价比超市便宜不少"),
            ("HM02", "厨房湿巾一擦就干净，连油烟机都能擦"),
            ("HM03", "长绒棉四件套亲肤不起球，换季换新正合适"),
            ("HM04", "收纳盒三个装，衣柜瞬间整齐了"),
            ("MB01", "柔巾家里有娃的都懂，干湿两用，囤就对了"),
        ),
        1.8,
    ),
    ShopSpec(
        "宝妈严选",
        "两个娃的宝妈，母婴用品每一样都先给自家娃用过再推荐。安全第一，品质第二，价格第三。",
        (
            ("MB01", "宝宝擦脸擦手都用它，柔软不掉屑，我家娃用了两年"),
            ("MB02", "宝宝衣服单独洗，这款没有荧光剂，洗完软软的"),
            ("MB03", "秋冬宝宝脸蛋不皴，就靠这罐面霜"),
            ("MB04", "轻薄透气，夜里睡整觉不红屁屁;尺码拿不准可以问我"),
            ("MB05", "吸盘特别牢，宝宝自己吃饭也不怕打翻"),
            ("FR02", "软籽石榴，宝宝也能直接吃，不用吐籽"),
            ("FR05", "草莓洗干净就能给宝宝当水果辅食"),
            ("FR10", "猕猴桃维C满满，我家娃一天一个"),
            ("SN04", "冻干草莓没有添加糖，放心给孩子当零食"),
            ("SN01", "灰枣补气血，产后妈妈也可以吃"),
            ("PC01", "当妈后没时间护肤，一支温和的洗面奶就够了"),
            ("HM02", "带娃必备的厨房湿巾，随手擦桌子"),
        ),
        1.3,
    ),
    ShopSpec(
        "健身达人Leo",
        "国家职业健身教练Leo,分享健身期间吃什么、用什么。好身材，七分吃三分练。",
        (
            ("SN02", "每日坚果补充优质脂肪，训练日加餐刚刚好"),
            ("SN06", "高蛋白低脂肪的牦牛肉干，练完来一包"),
            ("TE03", "训练前一杯黑咖啡，状态拉满"),
            ("GR01", "紫米替代一半白米饭，控糖减脂期的好主食"),
            ("FR07", "车厘子抗氧化，练后恢复吃几颗"),
            ("FR10", "猕猴桃补维C,训练日必备"),
            ("FR03", "芒果打奶昔，加一勺蛋白粉绝了"),
            ("TE02", "滇红暖胃，休息日来一杯"),
            ("PC02", "出汗多头发容易油，控油款我一直在用"),
            ("PC03", "竹炭牙膏清新口气，健身房更衣柜常备"),
        ),
        0.8,
    ),
    ShopSpec(
        "茶语小馆",
        "开了八年茶馆的老茶客，只选云南好茶。怎么泡、怎么存，都可以直接问我。",
        (
            ("TE01", "勐海熟普汤色红浓，冬天围炉煮着喝最舒服"),
            ("TE02", "滇红金芽蜜香明显，红茶新手入门首选"),
            ("TE05", "月光白是我最爱的白茶，这几天降价入手很划算"),
            ("TE04", "玫瑰花冠配一点红茶，下午茶的灵魂"),
            ("TE06", "酸角汁酸酸甜甜，夏天冰镇一下特别解暑"),
            ("TE07", "定制刻字茶饼，送长辈送客户都很有心意"),
            ("SN05", "鲜花饼配一壶茶，就是最好的云南下午"),
            ("GR02", "店里的蜂蜜柠檬茶就用这款蜂蜜"),
            ("TE03", "不喝茶的朋友来店里，我就给他泡这个挂耳"),
        ),
        0.7,
    ),
)


def avatar_urls() -> list[str]:
    return [images.avatar_url(spec.avatar_name(i)) for i, spec in enumerate(SHOPS)]


def draw_avatars(media_dir: Path) -> None:
    """Draw the missing round shop avatars."""
    for i, spec in enumerate(SHOPS):
        images.ensure_avatar(media_dir, spec.avatar_name(i), spec.name, i)


async def seed_shops(s: AsyncSession, owner_ids: Sequence[int], product_ids: dict[str, int],
                     avatar_urls: list[str], now: datetime) -> list[int]:
    """Open the missing demo shops and fill their shelves. Returns the shop ids, in SHOPS order."""
    shop_ids: list[int] = []
    clock.set(now - timedelta(days=SHOPS_DAYS_AGO))
    for spec, owner_id, avatar in zip(SHOPS, owner_ids, avatar_urls, strict=True):
        shop = await shops.find_my_shop(s, owner_id)
        if shop is None:
            shop = await shops.open_shop(s, owner_id, spec.name, spec.intro, avatar)
        elif shop.avatar_url is None:
            await shops.update_shop(s, shop, avatar_url=avatar)
        shop_ids.append(shop.id)
        stocked = (await s.execute(select(ShelfItem.id).where(ShelfItem.shop_id == shop.id).limit(1))).first()
        if stocked is None:
            for code, line in spec.shelf:
                if code in product_ids:
                    await shops.add_to_shelf(s, shop, product_ids[code], line)
    return shop_ids
