"""Deterministic name material for the demo company: people, companies, cities, products.

Everything here is plain data plus small vectorised helpers that draw from a numpy
``Generator``; no other module of salesml depends on it.
"""

from __future__ import annotations

import numpy as np

#: common Chinese surnames, most frequent first (weights fall off like the real ones)
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)

#: characters used in given names
GIVEN_CHARS = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏飞辉婷雪琳晨宇浩凯欣怡佳俊峰建国文斌波宁倩颖"
    "玲海鑫龙阳帆博然思梦晓琪慧嘉子志立新翔睿泽瑶蕾媛冰岩诗婧悦"
)

#: region (raw Chinese name) -> cities in it, with relative weights
CITIES: dict[str, list[tuple[str, float]]] = {
    "华东": [("上海", 5), ("杭州", 3), ("南京", 2.5), ("苏州", 2.5), ("宁波", 1.5), ("合肥", 1.5), ("济南", 1.2), ("厦门", 1)],
    "华南": [("广州", 4), ("深圳", 4), ("东莞", 1.8), ("佛山", 1.6), ("南宁", 1), ("海口", 0.6), ("珠海", 0.8)],
    "华北": [("北京", 5), ("天津", 2.2), ("石家庄", 1.2), ("太原", 1), ("呼和浩特", 0.6), ("唐山", 0.7)],
    "华中": [("武汉", 3), ("长沙", 2.2), ("郑州", 2.2), ("南昌", 1.2), ("宜昌", 0.5)],
    "西南": [("成都", 3.5), ("重庆", 3), ("昆明", 1.5), ("贵阳", 1.2), ("绵阳", 0.5)],
    "东北": [("沈阳", 2), ("大连", 1.8), ("长春", 1.3), ("哈尔滨", 1.5)],
}

_COMPANY_HEAD = list("恒华鑫瑞宏金天永博中海德和嘉润汇安东星启锦卓精盛凯远鼎富佳同众伟兴通广大力信百亿蓝绿银聚国正明立思宝福祥泰丰康益荣志联君圣美悦新长万昌")
_COMPANY_TAIL = list("达信源丰图桥成盛远联纳润禾泽通泰方河城辰航程越诚世旋鼎华美创合业隆拓瑞科阳海川德和祥昌利发邦宇威峰辉晟展腾")
_INDUSTRIES = [
    "贸易", "科技", "实业", "电子", "商贸", "物流", "餐饮管理", "建设工程", "医疗器械", "信息技术",
    "文化传媒", "家居", "服饰", "食品", "机械设备", "环保科技", "教育咨询", "酒店管理", "汽车服务", "新能源",
]

#: categories: English name, relative share of the catalogue, median list price (CNY),
#: log-sd of list prices, gross margin, brands, product nouns
CATEGORIES: list[dict] = [
    dict(name="Electronics", share=0.16, price=1500.0, sigma=0.8, margin=0.18,
         brands=["Lenovo", "Huawei", "Xiaomi", "Dell", "HP"],
         nouns=["笔记本电脑", "平板电脑", "显示器", "无线耳机", "智能手表", "移动电源", "键盘", "鼠标", "打印机", "路由器", "投影仪", "手机"]),
    dict(name="Home Appliances", share=0.12, price=900.0, sigma=0.7, margin=0.25,
         brands=["Haier", "Midea", "Gree", "Philips", "Supor"],
         nouns=["空调", "冰箱", "洗衣机", "电饭煲", "微波炉", "空气净化器", "吸尘器", "电水壶", "热水器", "电风扇", "加湿器"]),
    dict(name="Office Supplies", share=0.18, price=40.0, sigma=0.9, margin=0.40,
         brands=["Deli", "M&G", "Comix", "Kokuyo"],
         nouns=["中性笔", "笔记本", "文件夹", "订书机", "A4复印纸", "计算器", "白板", "便利贴", "档案盒", "碎纸机", "标签机"]),
    dict(name="Furniture", share=0.09, price=800.0, sigma=0.6, margin=0.45,
         brands=["Kuka", "Sunon", "Markor", "Quanu"],
         nouns=["办公椅", "办公桌", "文件柜", "会议桌", "沙发", "书架", "屏风工位", "餐桌", "床垫", "茶几"]),
    dict(name="Personal Care", share=0.12, price=80.0, sigma=0.6, margin=0.55,
         brands=["Pechoin", "Colgate", "Nivea", "Blue Moon", "LOreal"],
         nouns=["洗发水", "沐浴露", "牙膏", "面霜", "洗手液", "电动牙刷", "剃须刀", "防晒霜", "洗衣液"]),
    dict(name="Food & Beverage", share=0.13, price=35.0, sigma=0.6, margin=0.30,
         brands=["Nongfu", "Yili", "Mengniu", "Three Squirrels", "Nestle"],
         nouns=["矿泉水", "纯牛奶", "坚果礼盒", "咖啡豆", "茶叶礼盒", "饼干", "果汁", "速溶咖啡", "酸奶", "月饼礼盒"]),
    dict(name="Apparel", share=0.11, price=200.0, sigma=0.6, margin=0.50,
         brands=["Li-Ning", "Anta", "Bosideng", "Uniqlo", "Septwolves"],
         nouns=["工作服", "衬衫", "羽绒服", "T恤", "夹克", "运动裤", "西装", "卫衣", "工装鞋"]),
    dict(name="Sports & Outdoors", share=0.09, price=300.0, sigma=0.8, margin=0.40,
         brands=["Decathlon", "Li-Ning", "Anta", "Kailas", "Yonex"],
         nouns=["跑步鞋", "瑜伽垫", "登山包", "帐篷", "羽毛球拍", "篮球", "哑铃", "骑行头盔", "户外水壶"]),
]

_SERIES = list("ABCDEFGHKMNPRSTVXZ")


def _pick(rng: np.random.Generator, items: list[str], n: int, weights: np.ndarray | None = None) -> np.ndarray:
    arr = np.asarray(items, dtype=object)
    if weights is None:
        return arr[rng.integers(0, len(arr), n)]
    p = np.asarray(weights, dtype=float)
    return arr[rng.choice(len(arr), size=n, p=p / p.sum())]


def _surname_weights() -> np.ndarray:
    return 1.0 / (np.arange(len(SURNAMES)) + 3.0)


def _unique(rng: np.random.Generator, n: int, draw, taken: np.ndarray | None = None) -> np.ndarray:
    """Draw ``n`` names with ``draw(rng, idx)`` and re-draw duplicates (and names in
    ``taken``) until all are unique. Vectorised: each round re-draws only the clashes."""
    names = draw(rng, np.arange(n))
    taken = np.asarray([] if taken is None else taken, dtype=str)
    for _ in range(100):
        as_str = names.astype(str)
        _, first = np.unique(as_str, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if len(taken):
            dup |= np.isin(as_str, taken)
        if not dup.any():
            return names
        idx = np.flatnonzero(dup)
        names[idx] = draw(rng, idx)
    raise RuntimeError("could not draw unique names")  # pragma: no cover


def person_names(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """Unique Chinese personal names such as 王芳 or 李晓明."""

    def draw(r: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        k = len(idx)
        sur = _pick(r, SURNAMES, k, _surname_weights())
        g1 = _pick(r, GIVEN_CHARS, k)
        g2 = _pick(r, GIVEN_CHARS, k)
        two = r.random(k) < 0.6
        return np.where(two, sur + g1 + g2, sur + g1).astype(object)

    return _unique(rng, n, draw, taken)


def company_names(rng: np.random.Generator, cities: np.ndarray, key_account: np.ndarray) -> np.ndarray:
    """Unique company names such as 上海恒达贸易有限公司 (groups for key accounts)."""
    cities = np.asarray(cities, dtype=object)
    key_account = np.asarray(key_account, dtype=bool)

    def draw(r: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        k = len(idx)
        word = _pick(r, _COMPANY_HEAD, k) + _pick(r, _COMPANY_TAIL, k)
        ind = _pick(r, _INDUSTRIES, k)
        u = r.random(k)
        ka = key_account[idx]
        form = np.where(ka & (u < 0.5), "集团有限公司", np.where(ka & (u < 0.8), "股份有限公司", "有限公司"))
        return (cities[idx] + word + ind + form.astype(object)).astype(object)

    return _unique(rng, len(cities), draw)


def product_names(rng: np.random.Generator, brands: np.ndarray, nouns: np.ndarray) -> np.ndarray:
    """Unique product names such as ``Lenovo 笔记本电脑 X12``."""
    brands = np.asarray(brands, dtype=object)
    nouns = np.asarray(nouns, dtype=object)

    def draw(r: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        k = len(idx)
        series = _pick(r, _SERIES, k)
        num = r.integers(1, 100, k)
        num = np.where(r.random(k) < 0.3, num * 10, num).astype(str).astype(object)
        suffix = _pick(r, ["", "", "", "", " Pro", " Max", " Lite", " Plus"], k)
        return (brands[idx] + " " + nouns[idx] + " " + series + num + suffix).astype(object)

    return _unique(rng, len(brands), draw)
