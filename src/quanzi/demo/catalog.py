"""Demo catalog: categories and ~40 products (SPU + SKUs) of the three demo suppliers, with pictures.

Products are found again by their SKU codes (`DEMO-<code>-<n>`), so the step is idempotent and grows:
a SKU added to a spec later is added to the existing product on the next run. A SKU with `was_fen`
is created at that price and cut to `price_fen` PRICE_CUT_DAYS_AGO days ago, so the product has a
real price history for the 7-day reference price.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.catalog import service as catalog
from quanzi.catalog.models import PriceChange, Product, Sku
from quanzi.demo import images
from quanzi.kit.clock import clock

SKU_PREFIX = "DEMO-"
CATALOG_DAYS_AGO = 45  # products "went on sale" this long ago: older than the order history
PRICE_CUT_DAYS_AGO = 3
FRESH = "生鲜"
CUSTOM = "定制商品"

# key → (name_zh, name_en, sort)
CATEGORIES: dict[str, tuple[str, str, int]] = {
    "fruit": ("水果", "Fruit", 10),
    "snack": ("零食", "Snacks", 20),
    "tea": ("茶饮", "Tea & drinks", 30),
    "grain": ("粮油干货", "Pantry", 40),
    "care": ("个护", "Personal care", 50),
    "baby": ("母婴", "Mother & baby", 60),
    "home": ("家居", "Home", 70),
}


@dataclass(frozen=True)
class SkuSpec:
    label: str
    price_fen: int
    cost_fen: int
    stock: int
    attrs: dict[str, Any] = field(default_factory=dict)
    weight_g: int = 0
    was_fen: int | None = None  # the price before the cut PRICE_CUT_DAYS_AGO days ago


@dataclass(frozen=True)
class ProductSpec:
    code: str
    supplier: int  # index into seed.SUPPLIERS
    category: str
    title: str
    subtitle: str
    description: str
    skus: tuple[SkuSpec, ...]
    non_returnable: str = ""  # "" or the reason shown to the buyer (生鲜 / 定制商品)
    popularity: float = 1.0  # how often the order history picks it
    color: tuple[int, int, int] | None = None  # of the picture's illustration (default: the category's)

    def sku_code(self, i: int) -> str:
        return f"{SKU_PREFIX}{self.code}-{i + 1}"

    @property
    def image_name(self) -> str:
        return f"demo-{self.code.lower()}"


def P(code: str, supplier: int, category: str, title: str, subtitle: str, description: str, *skus: SkuSpec,
      nr: str = "", pop: float = 1.0, color: tuple[int, int, int] | None = None) -> ProductSpec:
    return ProductSpec(code, supplier, category, title, subtitle, description, tuple(skus), nr, pop, color)


S = SkuSpec

PRODUCTS: tuple[ProductSpec, ...] = (
    # --- 鲜果源头供应链 ------------------------------------------------------------------------------
    P("FR01", 0, "fruit", "赣南脐橙 现摘现发", "江西赣州原产地直发 果径75mm+ 酸甜多汁",
      "赣南脐橙，果园现摘后24小时内发货。皮薄易剥，果肉细嫩化渣，甜度13°以上。坏果包赔，拍照联系客服即可。",
      S("5斤装", 2990, 1800, 400, {"规格": "5斤", "果径": "75-80mm"}, 2500),
      S("10斤装", 4990, 3100, 300, {"规格": "10斤", "果径": "75-80mm"}, 5000),
      nr=FRESH, pop=3.0, color=(245, 140, 40)),
    P("FR02", 0, "fruit", "云南蒙自软籽石榴", "颗颗饱满 籽软可嚼 老人小孩都能吃",
      "蒙自高原日照充足，石榴籽粒大、汁水多，籽软可以直接嚼着吃。单果300克以上，泡沫网套独立包装。",
      S("4个装", 2690, 1650, 200, {"规格": "4个", "单果": "300g+"}, 1400),
      S("8个装", 4590, 2900, 150, {"规格": "8个", "单果": "300g+"}, 2800),
      nr=FRESH, pop=1.2, color=(205, 45, 70)),
    P("FR03", 0, "fruit", "海南贵妃芒 树上熟", "香甜软糯 纤维少 一口爆汁",
      "海南三亚产区贵妃芒，八成熟采摘，到手放置1-2天表皮转黄即可食用。个头均匀，单果200-300克。",
      S("3斤装", 2590, 1500, 300, {"规格": "3斤"}, 1500, was_fen=2990),
      S("5斤装", 3690, 2200, 250, {"规格": "5斤"}, 2500, was_fen=4290),
      nr=FRESH, pop=2.0, color=(246, 186, 40)),
    P("FR04", 0, "fruit", "烟台红富士苹果", "山东烟台栖霞 脆甜多汁 冰糖心",
      "栖霞山地果园红富士，套袋种植，表皮光洁。咬一口嘎嘣脆，甜中带一点点酸，冷藏后风味更佳。",
      S("5斤 中果", 3290, 2000, 300, {"规格": "5斤", "果径": "75-80mm"}, 2500),
      S("5斤 大果", 3990, 2500, 250, {"规格": "5斤", "果径": "80-85mm"}, 2500),
      S("10斤礼盒装", 7900, 5000, 120, {"规格": "10斤", "包装": "礼盒"}, 5000),
      nr=FRESH, pop=2.0, color=(214, 52, 52)),
    P("FR05", 0, "fruit", "丹东99红颜奶油草莓", "个大饱满 奶香浓郁 冷链直发",
      "丹东东港99草莓，冬季大棚种植，果形端正、色泽鲜红。全程冷链配送，请收货后尽快冷藏食用。",
      S("1.5斤装", 5990, 3900, 150, {"规格": "1.5斤", "果重": "25-35g"}, 750),
      S("3斤礼盒装", 10900, 7200, 100, {"规格": "3斤", "包装": "礼盒"}, 1500),
      nr=FRESH, pop=1.5, color=(228, 48, 78)),
    P("FR06", 0, "fruit", "四川爱媛38号果冻橙", "果肉嫩如果冻 皮薄无籽 清甜不酸",
      "四川眉山爱媛果冻橙，果肉细嫩爆汁，入口即化。可以用勺子挖着吃，是小朋友的最爱。",
      S("3斤装", 2290, 1350, 300, {"规格": "3斤"}, 1500),
      S("5斤装", 3590, 2150, 250, {"规格": "5斤"}, 2500),
      nr=FRESH, pop=1.6, color=(250, 150, 30)),
    P("FR07", 0, "fruit", "智利车厘子 JJ级", "果径28-30mm 脆甜硬实 原箱进口",
      "智利空运车厘子，JJ级大果，果梗新鲜、果肉紧实。礼盒包装，冷链配送，年货送礼体面之选。",
      S("2斤礼盒", 12900, 8800, 120, {"规格": "2斤", "等级": "JJ"}, 1000, was_fen=15900),
      S("5斤礼盒", 29900, 21000, 60, {"规格": "5斤", "等级": "JJ"}, 2500, was_fen=35900),
      nr=FRESH, pop=1.2, color=(150, 22, 45)),
    P("FR08", 0, "fruit", "广西武鸣沃柑", "皮薄好剥 汁多化渣 性价比之选",
      "广西武鸣沃柑，阳光充足，糖酸比高。果皮薄易剥，橙红色果肉一口下去满嘴是汁。",
      S("5斤装", 1990, 1150, 400, {"规格": "5斤"}, 2500),
      S("9斤装", 3390, 2000, 300, {"规格": "9斤"}, 4500),
      nr=FRESH, pop=2.2, color=(240, 120, 35)),
    P("FR09", 0, "fruit", "泰国金枕头榴莲", "带壳发货 肉厚核小 开不好包退",
      "泰国东部产区金枕头榴莲，自然成熟，果肉金黄绵密。3-5斤单果，出肉率约30%,开果不满意可申请补偿。",
      S("单果3-4斤", 13900, 9800, 80, {"规格": "3-4斤"}, 1750),
      S("单果4-5斤", 16900, 12000, 60, {"规格": "4-5斤"}, 2250),
      nr=FRESH, pop=0.8, color=(196, 176, 70)),
    P("FR10", 0, "fruit", "陕西周至徐香猕猴桃", "绿心软糯 酸甜适中 维C满满",
      "周至猕猴桃核心产区，单果80-100克。到手偏硬属正常，常温放置2-3天变软后食用，和苹果放一起熟得更快。",
      S("12个装", 2490, 1450, 300, {"规格": "12个", "单果": "80-100g"}, 1200),
      S("24个装", 4290, 2600, 200, {"规格": "24个", "单果": "80-100g"}, 2400),
      nr=FRESH, pop=1.4, color=(130, 150, 60)),
    P("SN01", 0, "snack", "新疆若羌灰枣", "皮薄肉厚 自然晾干 煮粥泡水都好",
      "若羌灰枣，树上自然挂干，个头匀称，肉厚核小，甜而不腻。开袋即食，也可以煮粥、煲汤、泡水。",
      S("500g", 1990, 1100, 300, {"净含量": "500g"}, 500),
      S("1000g", 3590, 2100, 200, {"净含量": "1000g"}, 1000),
      pop=1.5),
    P("SN02", 0, "snack", "每日坚果 混合果仁", "6种坚果果干 科学配比 独立小包",
      "核桃仁、腰果、巴旦木、榛子、蔓越莓干、蓝莓干六种搭配，每包25克，一天一包刚刚好。",
      S("7包尝鲜装", 2590, 1500, 300, {"规格": "25g×7包"}, 175),
      S("30包礼盒装", 8900, 5400, 200, {"规格": "25g×30包", "包装": "礼盒"}, 750),
      pop=2.0),
    P("SN03", 0, "snack", "泰国风味芒果干", "肉厚软糯 酸甜Q弹 追剧解馋",
      "精选大果肉芒果，低温烘干，保留芒果的天然酸甜。独立小包装，办公室、出游随手带。",
      S("100g×2袋", 1690, 950, 300, {"规格": "100g×2袋"}, 200),
      S("500g家庭装", 3690, 2200, 150, {"规格": "500g"}, 500),
      pop=1.3),
    P("SN04", 0, "snack", "冻干草莓脆", "整颗冻干 酥脆不粘牙 无添加蔗糖",
      "新鲜草莓真空冷冻干燥，保留原有的颜色和香味，入口酥脆。配料只有草莓，孩子的健康小零食。",
      S("30g×3袋", 2990, 1800, 250, {"规格": "30g×3袋"}, 90),
      pop=1.0),
    # --- 云南山货合作社 ------------------------------------------------------------------------------
    P("TE01", 1, "tea", "勐海普洱熟茶饼 357克", "2019年勐海料 汤色红浓 陈香醇厚",
      "精选勐海大叶种晒青毛茶，传统渥堆发酵，石磨压饼。汤色红浓透亮，入口顺滑，适合日常冲泡与煮饮。",
      S("357g 单饼", 12800, 7200, 150, {"规格": "357g", "年份": "2019"}, 400),
      S("357g×2 礼盒装", 23900, 14000, 80, {"规格": "357g×2", "包装": "礼盒"}, 900),
      pop=1.2),
    P("TE02", 1, "tea", "凤庆滇红金芽红茶", "一芽一叶 蜜香浓郁 甜润回甘",
      "云南凤庆大叶种，春季一芽一叶采摘，金毫显露，蜜香高扬。冲泡后汤色红亮，可清饮也可做奶茶。",
      S("罐装100g", 6900, 3900, 200, {"规格": "100g", "包装": "铁罐"}, 200),
      S("250g礼盒装", 15800, 9200, 100, {"规格": "250g", "包装": "礼盒"}, 450),
      pop=1.1),
    P("TE03", 1, "tea", "云南小粒咖啡 挂耳", "保山阿拉比卡 中深烘焙 坚果可可风味",
      "保山产区小粒咖啡，新鲜烘焙后48小时内充氮包装。挂耳设计，热水一冲就是一杯手冲咖啡。",
      S("10g×20包", 4990, 2800, 300, {"规格": "10g×20包", "烘焙": "中深烘"}, 250),
      S("10g×50包", 10900, 6300, 150, {"规格": "10g×50包", "烘焙": "中深烘"}, 600),
      pop=1.6),
    P("TE04", 1, "tea", "墨红玫瑰花冠茶", "一朵一杯 花香浓郁 冷泡热泡都好喝",
      "云南墨红玫瑰，花冠完整，低温烘干。一朵即可泡一杯，可以搭配红茶或蜂蜜。",
      S("罐装50g", 3990, 2200, 200, {"规格": "50g", "包装": "罐装"}, 120),
      pop=0.9),
    P("TE05", 1, "tea", "景谷古树白茶 月光白", "一面白一面黑 蜜香甜润 耐泡",
      "景谷大白茶古树鲜叶，月光下萎凋而得名。干茶黑白相间，汤色杏黄，花蜜香持久，可存放转化。",
      S("100g", 8800, 5200, 150, {"规格": "100g"}, 150, was_fen=9800),
      S("200g", 16800, 10000, 80, {"规格": "200g"}, 280, was_fen=18800),
      pop=0.8),
    P("TE06", 1, "tea", "云南酸角汁饮料", "元江酸角鲜榨 酸甜开胃 冰镇更爽",
      "元江酸角果肉榨汁，酸甜解腻，吃火锅、烧烤的好搭档。330ml玻璃瓶装。",
      S("330ml×12瓶", 4500, 2600, 200, {"规格": "330ml×12"}, 6000),
      S("330ml×24瓶", 8500, 5000, 120, {"规格": "330ml×24"}, 12000),
      pop=0.9),
    P("TE07", 1, "tea", "定制刻字普洱茶礼盒", "茶饼刻字 专属定制 送长辈送客户",
      "357克勐海熟普茶饼，可在茶饼与木盒上刻字(10字以内),下单后请在备注中留言。定制商品，做好后不支持无理由退货。",
      S("357g 定制刻字礼盒", 26800, 16000, 60, {"规格": "357g", "定制": "刻字"}, 1200),
      nr=CUSTOM, pop=0.4),
    P("SN05", 1, "snack", "云南玫瑰鲜花饼", "现烤酥皮 花瓣馅料 一口花香",
      "选用食用玫瑰花瓣，现做现烤，酥皮层层分明，馅料清甜不腻。单枚独立包装，保质期30天。",
      S("玫瑰味 10枚", 2990, 1700, 250, {"口味": "玫瑰", "规格": "10枚"}, 500),
      S("混合口味礼盒 20枚", 5500, 3200, 150, {"口味": "玫瑰/紫罗兰/茉莉", "规格": "20枚"}, 1000),
      pop=1.3),
    P("SN06", 1, "snack", "香格里拉风干牦牛肉干", "高蛋白 低脂肪 越嚼越香",
      "香格里拉高原牦牛肉，传统风干工艺，肉质紧实有嚼劲。原味与香辣两种口味，健身、户外的能量补给。",
      S("250g 原味", 5900, 3600, 200, {"口味": "原味", "规格": "250g"}, 250),
      S("250g 香辣", 5900, 3600, 200, {"口味": "香辣", "规格": "250g"}, 250),
      pop=1.2),
    P("GR01", 1, "grain", "云南墨江紫米", "当季新米 软糯香甜 煮粥做饭团",
      "墨江紫米，颗粒饱满，煮后软糯有弹性。可单独煮粥，也可与大米1:3混合蒸饭，粗细搭配更健康。",
      S("2.5kg", 3290, 1900, 250, {"规格": "2.5kg"}, 2500),
      S("5kg", 5990, 3600, 150, {"规格": "5kg"}, 5000),
      pop=1.2),
    P("GR02", 1, "grain", "高原野生百花蜂蜜", "成熟蜜 自然结晶 无添加",
      "海拔2000米以上山区野生百花蜜，蜂农自养自采，波美度42以上的成熟蜜。低温下结晶是正常现象。",
      S("500g", 5800, 3400, 200, {"规格": "500g"}, 600),
      S("1000g", 9800, 5900, 120, {"规格": "1000g"}, 1150),
      pop=1.1),
    P("GR03", 1, "grain", "野生干牛肝菌", "云南山林采摘 切片晒干 菌香浓郁",
      "雨季山林采摘的野生牛肝菌，切片自然晾晒。泡发后炒肉、炖汤、做菌油都很香。请彻底煮熟后食用。",
      S("100g", 5900, 3500, 150, {"规格": "100g"}, 100),
      S("250g", 13500, 8200, 80, {"规格": "250g"}, 250),
      pop=0.7),
    P("GR04", 1, "grain", "香格里拉鲜松茸 冰鲜", "当天采摘 冷链空运 限时上市",
      "香格里拉野生松茸，当天采摘分级，冰袋保鲜冷链直发。收到后请冷藏并尽快食用。生鲜商品，不支持七天无理由退货。",
      S("200g 4-6cm", 16800, 11000, 60, {"规格": "200g", "等级": "4-6cm"}, 200),
      nr=FRESH, pop=0.5),
    # --- 好物日化工厂 --------------------------------------------------------------------------------
    P("PC01", 2, "care", "氨基酸温和洗面奶", "弱酸性配方 绵密泡沫 洗后不紧绷",
      "氨基酸表面活性剂，pH值5.5左右，温和清洁不刺激。敏感肌、干皮也能每天用。",
      S("120g", 3990, 1800, 300, {"规格": "120g"}, 150),
      S("120g×2支", 6990, 3500, 200, {"规格": "120g×2"}, 300, was_fen=7990),
      pop=1.4),
    P("PC02", 2, "care", "无硅油氨基酸洗发水", "控油蓬松 清爽去屑 500ml大瓶",
      "无硅油配方，清洁头皮不压塌发根。控油款添加茶树精华，去屑款添加吡罗克酮乙醇胺盐。",
      S("500ml 控油蓬松", 4990, 2300, 250, {"功效": "控油蓬松", "规格": "500ml"}, 560),
      S("500ml 清爽去屑", 4990, 2300, 250, {"功效": "清爽去屑", "规格": "500ml"}, 560),
      pop=1.2),
    P("PC03", 2, "care", "竹炭清新牙膏", "清新口气 温和洁净 3支装",
      "竹炭微粒温和清洁，薄荷清凉口感，含氟配方帮助防蛀。",
      S("120g×3支", 2990, 1300, 400, {"规格": "120g×3"}, 400),
      pop=1.0),
    P("PC04", 2, "care", "烟酰胺保湿身体乳", "秋冬干皮救星 清爽不黏 淡淡果香",
      "添加烟酰胺与神经酰胺，滋润保湿，吸收快不黏衣服。400ml大容量，全家都能用。",
      S("400ml", 4500, 2000, 250, {"规格": "400ml", "香型": "白桃"}, 450, was_fen=5900),
      pop=1.2),
    P("PC05", 2, "care", "植物精油护手霜礼盒", "5支5种香味 滋润不油腻 送礼佳品",
      "樱花、白茶、玫瑰、柑橘、薰衣草五种香型，乳木果油配方滋润双手。精美礼盒包装。",
      S("30g×5支", 3990, 1800, 250, {"规格": "30g×5", "包装": "礼盒"}, 250),
      pop=1.0),
    P("MB01", 2, "baby", "婴儿纯棉柔巾", "100%棉 干湿两用 宝宝擦脸擦嘴",
      "全棉水刺无纺布，柔软厚实，干用当纸巾，湿用当湿巾。不含荧光剂，新生儿可用。",
      S("100抽×6包", 2990, 1500, 400, {"规格": "100抽×6"}, 900),
      S("100抽×12包", 5290, 2800, 300, {"规格": "100抽×12"}, 1800),
      pop=2.0),
    P("MB02", 2, "baby", "婴幼儿酵素洗衣液", "温和无荧光剂 去奶渍果汁渍",
      "生物酵素分解奶渍、口水渍、果汁渍，植物配方温和易漂洗，宝宝贴身衣物放心洗。",
      S("1L", 3590, 1700, 300, {"规格": "1L"}, 1100),
      S("1L×3瓶", 8900, 4500, 150, {"规格": "1L×3"}, 3300),
      pop=1.3),
    P("MB03", 2, "baby", "宝宝保湿面霜", "神经酰胺配方 秋冬防皴 温和无香",
      "专为婴幼儿肌肤设计，神经酰胺加燕麦精华，修护屏障、长效保湿。无香精无酒精。",
      S("50g", 5900, 2600, 200, {"规格": "50g"}, 100),
      pop=1.0),
    P("MB04", 2, "baby", "轻薄透气纸尿裤", "0.1cm轻薄芯体 12小时干爽 多码可选",
      "超薄吸收芯体，瞬吸不回渗;表层柔软透气，立体防漏护围。请按宝宝体重选择尺码。",
      S("S码 84片", 8900, 5000, 150, {"尺码": "S", "体重": "4-8kg", "片数": 84}, 2000),
      S("M码 72片", 8900, 5000, 200, {"尺码": "M", "体重": "6-11kg", "片数": 72}, 2100),
      S("L码 60片", 8900, 5000, 200, {"尺码": "L", "体重": "9-14kg", "片数": 60}, 2100),
      S("XL码 52片", 8900, 5000, 150, {"尺码": "XL", "体重": "12-17kg", "片数": 52}, 2100),
      pop=1.8),
    P("MB05", 2, "baby", "宝宝硅胶餐具套装", "食品级硅胶 吸盘防打翻 5件套",
      "吸盘碗、分格餐盘、勺叉和围兜5件套，食品级铂金硅胶，可进洗碗机和微波炉。",
      S("5件套 雾霾蓝", 6900, 3300, 100, {"颜色": "雾霾蓝", "件数": 5}, 600),
      S("5件套 樱花粉", 6900, 3300, 100, {"颜色": "樱花粉", "件数": 5}, 600),
      pop=0.8),
    P("HM01", 2, "home", "三合一洗衣凝珠", "洁净除菌护色 持久留香 一颗一桶",
      "浓缩配方，一颗搞定一桶衣服，洁净、除菌、护色三效合一。水溶膜遇水即溶，不留残渣。",
      S("52颗", 3990, 1900, 300, {"规格": "52颗", "香型": "小苍兰"}, 800),
      S("104颗", 6990, 3500, 200, {"规格": "104颗", "香型": "小苍兰"}, 1600),
      pop=1.6),
    P("HM02", 2, "home", "厨房去油污湿巾", "加厚加大 一擦即净 80抽×3包",
      "加厚珍珠纹，强效去油污，灶台、油烟机、抽油烟机滤网一擦就干净。",
      S("80抽×3包", 1990, 900, 400, {"规格": "80抽×3"}, 1200),
      pop=1.4),
    P("HM03", 2, "home", "新疆长绒棉四件套", "60支贡缎 亲肤柔软 不起球",
      "新疆长绒棉60支贡缎，丝滑亲肤，活性印染不易褪色。含被套、床单和两个枕套。",
      S("1.5m床", 19900, 11000, 100, {"尺寸": "1.5m床", "被套": "200×230cm"}, 2200),
      S("1.8m床", 23900, 13500, 100, {"尺寸": "1.8m床", "被套": "220×240cm"}, 2500),
      pop=0.8),
    P("HM04", 2, "home", "可叠加衣柜收纳盒", "免安装 透明可视 3个装",
      "加厚PP材质，抽屉式设计，可叠加可拼接。衣柜、床底、办公室都能用。",
      S("3个装 中号", 3990, 1900, 250, {"规格": "中号×3", "尺寸": "40×30×20cm"}, 2400),
      pop=1.0),
    P("HM05", 2, "home", "定制刻字香薰蜡烛", "大豆蜡 可刻名字 生日纪念礼物",
      "天然大豆蜡搭配植物精油，燃烧约45小时。杯身可激光刻字(12字以内),下单后在备注中留言。定制商品，不支持无理由退货。",
      S("200g 刻字款", 8900, 4200, 100, {"规格": "200g", "定制": "刻字"}, 450),
      nr=CUSTOM, pop=0.5),
)


def spec_by_code() -> dict[str, ProductSpec]:
    return {p.code: p for p in PRODUCTS}


# --- seeding ------------------------------------------------------------------------------------

def image_urls(specs: Sequence[ProductSpec] = PRODUCTS) -> dict[str, str]:
    """code → the picture's URL under /media (known before the picture is drawn)."""
    return {p.code: images.product_url(p.image_name) for p in specs}


def draw_images(media_dir: Path, specs: Sequence[ProductSpec] = PRODUCTS) -> int:
    """Draw the missing product pictures in a few threads. Returns how many were drawn."""

    def one(p: ProductSpec) -> str:
        return images.ensure_product_image(media_dir, p.image_name, p.title.split(" ")[0], p.category,
                                           p.subtitle.split(" ")[0], p.color)

    missing = [p for p in specs if not (media_dir / "products" / f"{p.image_name}.png").exists()]
    if missing:
        images.font_path()  # look the font up once, before the threads start
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(one, missing))
    return len(missing)


# Everyday names shoppers type for the same goods; the operator edits them at /console/search/synonyms.
SYNONYMS = ("橙子 橙 脐橙 orange", "土豆 马铃薯 洋芋 potato", "草莓 strawberry", "芒果 芒 mango")


async def seed_synonyms(s: AsyncSession) -> int:
    """Add the demo synonym groups none of whose terms is in a group yet. Returns how many were added."""
    from quanzi.catalog import search
    from quanzi.catalog.models import SynonymTerm

    added = 0
    for terms in SYNONYMS:
        if not (await s.execute(select(SynonymTerm.term).where(SynonymTerm.term.in_(search.parse_terms(terms)))
                                .limit(1))).first():
            await search.save_synonym_group(s, terms, note="demo", actor_id=None)
            added += 1
    return added


async def seed_categories(s: AsyncSession) -> dict[str, int]:
    return {key: (await catalog.ensure_category(s, zh, en, sort)).id
            for key, (zh, en, sort) in CATEGORIES.items()}


async def seed_products(s: AsyncSession, supplier_ids: Sequence[int], supplier_owner_ids: Sequence[int],
                        image_urls: dict[str, str], now: datetime) -> dict[str, int]:
    """Create missing products and SKUs (published, dated CATALOG_DAYS_AGO). Returns code → product id."""
    cats = await seed_categories(s)
    rows = (await s.execute(select(Sku.code, Sku.product_id).where(Sku.code.like(f"{SKU_PREFIX}%")))).all()
    product_of_code = {code: pid for code, pid in rows}
    ids: dict[str, int] = {}
    clock.set(now - timedelta(days=CATALOG_DAYS_AGO))
    for spec in PRODUCTS:
        owner = supplier_owner_ids[spec.supplier]
        existing = next((product_of_code[spec.sku_code(i)] for i in range(len(spec.skus))
                         if spec.sku_code(i) in product_of_code), None)
        if existing is None:
            product = await catalog.create_product(
                s, supplier_ids[spec.supplier], title=spec.title, subtitle=spec.subtitle,
                description=spec.description, category_id=cats[spec.category],
                image_url=image_urls[spec.code],
                non_returnable=bool(spec.non_returnable), non_returnable_reason=spec.non_returnable,
                skus=[_sku_values(spec, i) for i in range(len(spec.skus))], actor_id=owner, publish=True,
            )
            ids[spec.code] = product.id
            continue
        ids[spec.code] = existing
        for i in range(len(spec.skus)):  # the spec grew a SKU since the last run
            if spec.sku_code(i) not in product_of_code:
                await catalog.add_sku(s, existing, actor_id=owner, **_sku_values(spec, i))
    await seed_synonyms(s)
    return ids


def _sku_values(spec: ProductSpec, i: int) -> dict[str, Any]:
    k = spec.skus[i]
    return {"code": spec.sku_code(i), "label": k.label, "price_fen": k.was_fen or k.price_fen,
            "cost_fen": k.cost_fen,
            "stock": k.stock, "attrs": dict(k.attrs), "weight_g": k.weight_g}


def price_cuts() -> list[tuple[str, int, int]]:
    """(sku code, old price, new price) of every SKU that was cut PRICE_CUT_DAYS_AGO days ago."""
    return [(p.sku_code(i), k.was_fen, k.price_fen) for p in PRODUCTS for i, k in enumerate(p.skus)
            if k.was_fen is not None and k.was_fen != k.price_fen]


def price_cut_at(now: datetime) -> datetime:
    return now - timedelta(days=PRICE_CUT_DAYS_AGO, hours=2)


async def apply_price_cuts(s: AsyncSession) -> int:
    """Cut the prices of `price_cuts()` at clock.now(), once: a SKU whose history already holds its new
    price is left alone (so a supplier's later change is never undone). Returns how many were cut."""
    cuts = {code: (old, new) for code, old, new in price_cuts()}
    rows = (await s.execute(
        select(Sku.id, Sku.code, Sku.price_fen, Product.supplier_id)
        .join(Product, Product.id == Sku.product_id)
        .where(Sku.code.in_(list(cuts)))
    )).all()
    if not rows:
        return 0
    history = {(sku_id, price) for sku_id, price in (await s.execute(
        select(PriceChange.sku_id, PriceChange.price_fen).where(PriceChange.sku_id.in_([r[0] for r in rows]))
    )).all()}
    owner_of_supplier = await _owners(s)
    done = 0
    for sku_id, code, price, supplier_id in rows:
        old, new = cuts[code]
        if price == old and (sku_id, new) not in history:
            await catalog.set_price(s, sku_id, new, actor_id=owner_of_supplier.get(supplier_id))
            done += 1
    return done


async def _owners(s: AsyncSession) -> dict[int, int]:
    from quanzi.catalog.models import Supplier

    return {sid: owner for sid, owner in (await s.execute(select(Supplier.id, Supplier.owner_id))).all()}
