"""Writes the real-export fixtures of salesml's import (see README.md in this folder).

    python tests/data/exports/make.py

rewrites, byte for byte the same every time (standard library only, fixed seeds):

* ``shop/online_retail_2010-12_2011-03.csv``  a UK online retailer's invoice lines (UTF-8)
* ``erp_gbk/xsmx_2024Q1.csv``                 a Chinese ERP's sales ledger (GBK)
* ``eu_cp1252/Verkaufsjournal_2024-Q2.csv``    a German wholesaler's sales journal (cp1252, ";")
* ``daily/sales_2024-05-22.csv.gz`` ...        a web shop's daily exports, gzipped (UTF-8)

The files imitate the exports they are named after: their columns, number and date formats
and their defects (guest lines, cancellations, exact duplicate rows, returns with and without
a reference to their sale, mixed date styles, decimal commas and accounting negatives). The
acceptance test (tests/test_ingest_exports.py) recomputes every total from these files.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240501

CENT = Decimal("0.01")


def cents(x: Decimal) -> Decimal:
    """Money as the exports write it: rounded half away from zero to the cent."""
    return x.quantize(CENT, ROUND_HALF_UP)


def days(first: date, last: date, skip=lambda d: False) -> list[date]:
    out, d = [], first
    while d <= last:
        if not skip(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def csv_text(header: list[str], rows: list[list[str]], *, delimiter: str = ",", newline: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# =========================================================================== 1. shop export
# Like the UCI "Online Retail" data set (a UK gift wholesaler selling online, Dec 2010 -
# Dec 2011) as it is usually passed around: a CSV written by pandas from the original
# spreadsheet, so CustomerID is a float ("17850.0", empty for guests) and prices are
# shortest floats ("2.55", "18.0", "1.1").

SHOP_PRODUCTS = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55"),
    ("71053", "WHITE METAL LANTERN", "3.39"),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", "2.75"),
    ("84029G", "KNITTED UNION FLAG HOT WATER BOTTLE", "3.39"),
    ("84029E", "RED WOOLLY HOTTIE WHITE HEART.", "3.39"),
    ("22752", "SET 7 BABUSHKA NESTING BOXES", "7.65"),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", "4.25"),
    ("22633", "HAND WARMER UNION JACK", "1.85"),
    ("22632", "HAND WARMER RED POLKA DOT", "1.85"),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", "1.69"),
    ("22745", "POPPY'S PLAYHOUSE BEDROOM ", "2.1"),
    ("22748", "POPPY'S PLAYHOUSE KITCHEN", "2.1"),
    ("22749", "FELTCRAFT PRINCESS CHARLOTTE DOLL", "3.75"),
    ("22310", "IVORY KNITTED MUG COSY ", "1.65"),
    ("84969", "BOX OF 6 ASSORTED COLOUR TEASPOONS", "4.25"),
    ("22623", "BOX OF VINTAGE JIGSAW BLOCKS ", "4.95"),
    ("22622", "BOX OF VINTAGE ALPHABET BLOCKS", "9.95"),
    ("21754", "HOME BUILDING BLOCK WORD", "5.95"),
    ("21755", "LOVE BUILDING BLOCK WORD", "5.95"),
    ("21777", "RECIPE BOX WITH METAL HEART", "7.95"),
    ("48187", "DOORMAT NEW ENGLAND", "7.95"),
    ("22960", "JAM MAKING SET WITH JARS", "4.25"),
    ("22913", "RED COAT RACK PARIS FASHION", "4.95"),
    ("22912", "YELLOW COAT RACK PARIS FASHION", "4.95"),
    ("22914", "BLUE COAT RACK PARIS FASHION", "4.95"),
    ("21756", "BATH BUILDING BLOCK WORD", "5.95"),
    ("22728", "ALARM CLOCK BAKELIKE PINK", "3.75"),
    ("22727", "ALARM CLOCK BAKELIKE RED ", "3.75"),
    ("22726", "ALARM CLOCK BAKELIKE GREEN", "3.75"),
    ("21724", "PANDA AND BUNNIES STICKER SHEET", "0.85"),
    ("21883", "STARS GIFT TAPE ", "0.65"),
    ("10002", "INFLATABLE POLITICAL GLOBE ", "0.85"),
    ("21791", "VINTAGE HEADS AND TAILS CARD GAME ", "1.25"),
    ("21035", "SET/2 RED RETROSPOT TEA TOWELS ", "2.95"),
    ("22326", "ROUND SNACK BOXES SET OF4 WOODLAND ", "2.95"),
    ("22629", "SPACEBOY LUNCH BOX ", "1.95"),
    ("22659", "LUNCH BOX I LOVE LONDON", "1.95"),
    ("22631", "CIRCUS PARADE LUNCH BOX ", "1.95"),
    ("85099B", "JUMBO BAG RED RETROSPOT", "1.95"),
    ("20725", "LUNCH BAG RED RETROSPOT", "1.65"),
    ("22382", "LUNCH BAG SPACEBOY DESIGN ", "1.65"),
    ("22383", "LUNCH BAG SUKI DESIGN ", "1.65"),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", "0.55"),
    ("84991", "60 TEATIME FAIRY CAKE CASES", "0.55"),
    ("21977", "PACK OF 60 PINK PAISLEY CAKE CASES", "0.55"),
    ("22197", "SMALL POPCORN HOLDER", "0.85"),
    ("84077", "WORLD WAR 2 GLIDERS ASSTD DESIGNS", "0.29"),
    ("22423", "REGENCY CAKESTAND 3 TIER", "12.75"),
    ("47566", "PARTY BUNTING", "4.95"),
    ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN ", "4.95"),
    ("22457", "NATURAL SLATE HEART CHALKBOARD ", "2.95"),
    ("21034", "REX CASH+CARRY JUMBO SHOPPER", "0.95"),
    ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS ", "2.95"),
    ("22834", "HAND WARMER BABUSHKA DESIGN", "2.1"),
    ("21733", "RED HANGING HEART T-LIGHT HOLDER", "2.95"),
    ("22469", "HEART OF WICKER SMALL", "1.65"),
    ("22470", "HEART OF WICKER LARGE", "2.95"),
    ("85152", "HAND OVER THE CHOCOLATE   SIGN ", "2.1"),
    ("22411", "JUMBO SHOPPER VINTAGE RED PAISLEY", "1.95"),
    ("21931", "JUMBO STORAGE BAG SUKI", "1.95"),
    ("22386", "JUMBO BAG PINK POLKADOT", "1.95"),
    ("82482", "WOODEN PICTURE FRAME WHITE FINISH", "2.55"),
    ("82494L", "WOODEN FRAME ANTIQUE WHITE ", "2.95"),
    ("37370", "RETRO COFFEE MUGS ASSORTED", "1.06"),
    ("21071", "VINTAGE BILLBOARD DRINK ME MUG", "1.06"),
    ("21068", "VINTAGE BILLBOARD LOVE/HATE MUG", "1.06"),
    ("84946", "ANTIQUE SILVER T-LIGHT GLASS", "1.25"),
    ("22139", "RETROSPOT TEA SET CERAMIC 11 PC ", "4.95"),
    ("22352", "LUNCH BOX WITH CUTLERY RETROSPOT ", "2.55"),
    ("20728", "LUNCH BAG CARS BLUE", "1.65"),
    ("22662", "LUNCH BAG DOLLY GIRL DESIGN", "1.65"),
    ("22111", "SCOTTIE DOG HOT WATER BOTTLE", "4.95"),
    ("22112", "CHOCOLATE HOT WATER BOTTLE", "4.95"),
    ("22835", "HOT WATER BOTTLE I AM SO POORLY", "4.65"),
    ("21485", "RETROSPOT HEART HOT WATER BOTTLE", "4.95"),
    ("22178", "VICTORIAN GLASS HANGING T-LIGHT", "1.25"),
    ("22804", "CANDLEHOLDER PINK HANGING HEART", "2.95"),
    ("22865", "HAND WARMER OWL DESIGN", "2.1"),
    ("22866", "HAND WARMER SCOTTY DOG DESIGN", "2.1"),
    ("85014B", "RED RETROSPOT UMBRELLA", "5.95"),
    ("20685", "DOORMAT RED RETROSPOT", "7.95"),
    ("22961", "JAM MAKING SET PRINTED", "1.45"),
    ("22666", "RECIPE BOX PANTRY YELLOW DESIGN", "2.95"),
    ("22667", "RECIPE BOX RETROSPOT ", "2.95"),
    ("84380", "SET OF 3 BUTTERFLY COOKIE CUTTERS", "1.25"),
    ("22551", "PLASTERS IN TIN SPACEBOY", "1.65"),
    ("22554", "PLASTERS IN TIN WOODLAND ANIMALS", "1.65"),
    ("22556", "PLASTERS IN TIN CIRCUS PARADE ", "1.65"),
    ("21094", "SET/6 RED SPOTTY PAPER PLATES", "0.85"),
    ("21080", "SET/20 RED RETROSPOT PAPER NAPKINS ", "0.85"),
    ("22910", "PAPER CHAIN KIT VINTAGE CHRISTMAS", "2.95"),
    ("22144", "CHRISTMAS CRAFT LITTLE FRIENDS", "2.1"),
    ("21166", "COOK WITH WINE METAL SIGN ", "1.95"),
    ("21174", "POTTERING IN THE SHED METAL SIGN", "1.95"),
    ("21169", "YOU'RE CONFUSING ME METAL SIGN ", "1.69"),
    ("21175", "GIN + TONIC DIET METAL SIGN", "2.1"),
    ("82600", "N0 SINGING METAL SIGN", "2.1"),
    ("82580", "BATHROOM METAL SIGN", "0.55"),
    ("82578", "KITCHEN METAL SIGN", "0.55"),
    ("22189", "CREAM HEART CARD HOLDER", "3.95"),
    ("22427", "ENAMEL FLOWER JUG CREAM", "5.95"),
    ("22170", "PICTURE FRAME WOOD TRIPLE PORTRAIT", "6.75"),
    ("22195", "LARGE HEART MEASURING SPOONS", "1.65"),
    ("21704", "BAG 250g SWIRLY MARBLES", "0.85"),
    ("20914", "SET/5 RED RETROSPOT LID GLASS BOWLS", "2.95"),
    ("22077", "6 RIBBONS RUSTIC CHARM", "1.65"),
    ("85049E", "SCANDINAVIAN REDS RIBBONS", "1.25"),
    ("22969", "HOMEMADE JAM SCENTED CANDLES", "1.45"),
    ("21232", "STRAWBERRY CERAMIC TRINKET BOX", "1.25"),
    ("84997B", "RED 3 PIECE RETROSPOT CUTLERY SET", "3.75"),
    ("22492", "MINI PAINT SET VINTAGE ", "0.65"),
    ("21915", "RED  HARMONICA IN BOX ", "1.25"),
    ("22296", "HEART IVORY TRELLIS LARGE", "1.65"),
    ("20973", "12 PENCIL SMALL TUBE WOODLAND", "0.65"),
    ("22090", "PAPER BUNTING RETROSPOT", "2.95"),
    ("22083", "PAPER CHAIN KIT RETROSPOT", "2.95"),
    ("22501", "PICNIC BASKET WICKER LARGE", "9.95"),
    ("21181", "PLEASE ONE PERSON METAL SIGN", "2.1"),
    ("84692", "BOX OF 24 COCKTAIL PARASOLS", "0.42"),
    ("20750", "RED RETROSPOT MINI CASES", "6.35"),
    ("22367", "CHILDRENS APRON SPACEBOY DESIGN", "1.95"),
    ("22585", "PACK OF 6 BIRDY GIFT TAGS", "1.25"),
    ("21506", "FANCY FONT BIRTHDAY CARD, ", "0.42"),
    ("21519", "GIN AND TONIC DIET GREETING CARD ", "0.42"),
    ("85135C", "RED DRAGONFLY HELICOPTER", "1.25"),
    ("22940", "FELTCRAFT CHRISTMAS FAIRY", "4.25"),
]
#: a registered customer's country (the export writes it on every line)
SHOP_COUNTRIES = [
    ("United Kingdom", 80), ("Germany", 4), ("France", 4), ("EIRE", 2), ("Netherlands", 2), ("Belgium", 1),
    ("Spain", 1), ("Switzerland", 1), ("Portugal", 1), ("Norway", 1), ("Australia", 1), ("Italy", 1), ("Finland", 1),
]
#: carriage charged to registered customers abroad, per line (StockCode POST), by country
SHOP_POSTAGE = {"Germany": "18.0", "France": "18.0", "Netherlands": "15.0", "Belgium": "15.0", "Spain": "28.0",
                "Switzerland": "40.0", "Portugal": "28.0", "Norway": "40.0", "Australia": "40.0", "Italy": "28.0",
                "Finland": "40.0"}
SHOP_QTY = [1, 2, 3, 4, 6, 6, 6, 8, 10, 12, 12, 12, 12, 24, 24, 25, 36, 48, 72, 96, 144]


def price_text(d: Decimal) -> str:
    """A price as pandas writes a float: 2.55, 18.0, 1.1, -4287.63."""
    return repr(float(d))


def shop_date(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}"


def make_shop(rng: random.Random) -> dict[str, int]:
    products = [(c, d, Decimal(p)) for c, d, p in SHOP_PRODUCTS]
    ids = sorted(set(rng.sample(range(12347, 18288), 170)) | {17850})
    weights_by_id = {i: rng.paretovariate(1.3) for i in ids}
    weights_by_id[17850] = max(weights_by_id.values())  # the first invoice's customer, a regular
    countries, cweights = zip(*SHOP_COUNTRIES, strict=True)
    country = {i: rng.choices(countries, cweights)[0] for i in ids}
    country[17850] = "United Kingdom"
    # trading days: no Saturdays, closed from Christmas Eve to 3 January
    trading = days(date(2010, 12, 1), date(2011, 3, 31), lambda d: d.weekday() == 5 or date(2010, 12, 24) <= d <= date(2011, 1, 3))
    number = 536365
    invoices: list[tuple[str, str | None, str, list[tuple[str, str, int, Decimal]]]] = []  # (invoice, customer, when, lines)
    bought: dict[int, list[tuple[str, str, int, Decimal]]] = {}
    bad_debt_day = date(2011, 3, 22)
    rows: list[list[str]] = []

    def add(invoice: str, when: datetime, cust: int | None, lines: list[tuple[str, str, int, Decimal]]) -> None:
        where = country[cust] if cust else "United Kingdom"
        for code, desc, qty, price in lines:
            rows.append([invoice, code, desc, str(qty), shop_date(when), price_text(price), f"{cust}.0" if cust else "", where])
        invoices.append((invoice, None if cust is None else str(cust), shop_date(when), lines))

    # the export starts as the real one does: invoice 536365 of customer 17850, 1 Dec 2010 8:26
    first = datetime(2010, 12, 1, 8, 26)
    add(str(number), first, 17850, [(c, d, q, p) for (c, d, p), q in zip(products[:7], (6, 6, 8, 6, 6, 2, 6), strict=True)])
    bought[17850] = list(invoices[0][3])
    for day in trading:
        opening = 10 if day.weekday() == 6 else 7
        n_invoices = rng.choice([2, 2, 3, 3, 3, 4])
        clock = first if day == first.date() else datetime(day.year, day.month, day.day, opening, rng.randint(0, 59))
        for _ in range(n_invoices):
            clock += timedelta(minutes=rng.randint(15, 150))
            number += rng.randint(20, 80)
            if rng.random() < 0.09 and bought:
                # a cancellation: the customer cancels part of an earlier invoice (C + number)
                cust = rng.choice(sorted(bought))
                earlier = bought[cust]
                take = rng.sample(earlier, min(len(earlier), rng.choice([1, 1, 2, 3])))
                lines = [(c, d, -rng.choice([q, q, max(1, q // 2)]), p) for c, d, q, p in take]
                if rng.random() < 0.2:
                    lines.append(("D", "Discount", -1, Decimal(rng.choice(["5.76", "27.5", "13.21", "10.6"]))))
                add(f"C{number}", clock, cust, lines)
                continue
            guest = rng.random() < 0.16
            if guest:
                n = min(60, 6 + int(rng.expovariate(1 / 14)))
                picks = rng.sample(products, min(n, len(products)))
                lines = [(c, d, rng.choice([1, 1, 1, 2, 2, 3, 4]), cents(p * Decimal("1.96"))) for c, d, p in picks]
                lines.append(("DOT", "DOTCOM POSTAGE", 1, Decimal(rng.randint(1500, 22000)) / 100))
                add(str(number), clock, None, lines)
                continue
            cust = rng.choices(ids, [weights_by_id[i] for i in ids])[0]
            n = min(40, 1 + int(rng.expovariate(1 / 9)))
            picks = rng.sample(products, n)
            lines = []
            for c, d, p in picks:
                q = rng.choice(SHOP_QTY)
                lines.append((c, d, q, p if q < 48 else cents(p * Decimal("0.85"))))
            if rng.random() < 0.01:
                lines.append(("PADS", "PADS TO MATCH ALL CUSHIONS", rng.choice([1, 2]), Decimal("0.001")))
            if rng.random() < 0.015:
                lines.append(("M", "Manual", 1, Decimal(rng.choice(["0.85", "2.95", "16.95", "35.75"]))))
            if country[cust] == "EIRE":
                lines.append(("C2", "CARRIAGE", 1, Decimal("50.0")))
            elif country[cust] in SHOP_POSTAGE:
                lines.append(("POST", "POSTAGE", rng.choice([1, 1, 2, 3]), Decimal(SHOP_POSTAGE[country[cust]])))
            add(str(number), clock, cust, lines)
            bought.setdefault(cust, []).extend(ln for ln in lines if ln[0] not in ("POST", "C2", "M", "PADS"))
        if day == bad_debt_day:
            # bookkeeping entries in the sales export: a bad debt adjusted, then written off twice
            clock += timedelta(minutes=30)
            for k, sign in enumerate((1, -1, -1)):
                number += 1
                add(f"A{number}", clock + timedelta(minutes=k), None, [("B", "Adjust bad debt", 1, Decimal("4287.63") * sign)])

    # exact duplicate rows: the export repeats a few lines of an invoice (same content)
    starts = {}
    for i, r in enumerate(rows):
        starts.setdefault(r[0], []).append(i)
    candidates = [i for i, r in enumerate(rows) if r[0][0].isdigit() and len(starts[r[0]]) > 2]
    after: dict[int, list[list[str]]] = {}  # row index -> copies written after it
    for i in sorted(rng.sample(candidates, 36)):
        at = min(starts[rows[i][0]][-1], i + rng.randint(0, 3))
        after.setdefault(at, []).append(list(rows[i]))
    out = [r for i, row in enumerate(rows) for r in [row, *after.get(i, [])]]
    header = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    write(HERE / "shop" / "online_retail_2010-12_2011-03.csv", csv_text(header, out).encode("utf-8"))
    return {"rows": len(out), "duplicates": len(out) - len(rows), "guest rows": sum(1 for r in out if not r[6])}


# =========================================================================== 2. ERP export in GBK
# A distributor's 销售明细账 exported from its ERP: one row per document line, GBK, CRLF,
# amounts with thousands separators, dates typed in three styles by different branches.

ERP_REPS = [("张伟", "华北销售部"), ("王芳", "华北销售部"), ("李喆", "华东销售部"), ("刘洋", "华东销售部"),
            ("陈静", "华东销售部"), ("杨帆", "华南销售部"), ("赵磊", "华南销售部"), ("黄丽", "西南销售部")]
ERP_CUSTOMERS = [
    "北京朝阳区惠民超市有限公司", "北京海淀区佳家便利店", "天津和平区万客隆商行", "石家庄长安区福源超市",
    "济南历下区鑫盛副食品批发部", "上海浦东新区佳美便利店", "上海徐汇区乐购生活超市", "杭州堃德商贸有限公司",
    "杭州西湖区惠民超市", "南京鼓楼区好邻居便利店", "苏州姑苏区永盛百货", "无锡梁溪区华润食品商行",
    "宁波海曙区甬城超市", "合肥蜀山区家乐福便利", "福州鼓楼区闽福超市", "广州天河区天天便利店",
    "深圳南山区优选生活超市", "东莞南城区万家福超市", "佛山禅城区喜洋洋商行", "厦门思明区鹭岛便利",
    "成都锦江区红星商贸有限公司", "重庆渝中区山城百货", "昆明五华区滇香副食店", "贵阳云岩区黔惠超市",
    "武汉江汉区楚天便利店", "长沙芙蓉区湘江超市", "郑州金水区中原副食批发", "西安雁塔区长安商贸",
    "南昌东湖区赣鑫超市", "青岛市南区海尔路便利店", "大连中山区滨海商行", "沈阳和平区盛京超市",
    "哈尔滨道里区冰城副食", "太原迎泽区晋福超市", "兰州城关区陇原商贸", "南宁青秀区邕城便利",
    "海口龙华区椰城超市", "温州鹿城区瓯江百货", "绍兴越城区镕达商贸有限公司", "扬州广陵区淮扬便利店",
]
ERP_PRODUCTS = [
    ("10010001", "食用调和油", "5L", "桶", "69.90"), ("10010002", "花生油", "5L", "桶", "129.00"),
    ("10010003", "玉米油", "1.8L", "瓶", "32.50"), ("10020001", "生抽酱油", "1.9L", "瓶", "18.80"),
    ("10020002", "老陈醋", "500ml", "瓶", "7.50"), ("10020003", "料酒", "500ml", "瓶", "6.20"),
    ("10020004", "鸡精", "200g", "袋", "9.90"), ("10020005", "风味豆豉", "280g", "瓶", "11.50"),
    ("10030001", "东北大米", "10kg", "袋", "58.00"), ("10030002", "高筋面粉", "5kg", "袋", "29.90"),
    ("10030003", "鸡蛋挂面", "1kg", "袋", "8.80"), ("10030004", "速冻水饺", "1kg", "袋", "22.00"),
    ("10040001", "纯牛奶", "250ml×24", "箱", "59.00"), ("10040002", "酸奶", "200g×12", "箱", "45.60"),
    ("10040003", "饮用天然水", "550ml×24", "箱", "24.00"), ("10040004", "冰红茶", "500ml×15", "箱", "37.50"),
    ("10040005", "啤酒", "500ml×12", "箱", "42.00"), ("10040006", "椰汁", "245ml×24", "箱", "72.00"),
    ("10050001", "红烧牛肉面", "五连包", "提", "12.50"), ("10050002", "苏打饼干", "1kg", "箱", "26.80"),
    ("10050003", "香瓜子", "260g", "袋", "9.50"), ("10050004", "火腿肠", "30g×10", "袋", "8.90"),
    ("10050005", "八宝粥", "360g×12", "箱", "49.00"), ("10050006", "红枣", "500g", "袋", "19.90"),
    ("10050007", "核桃", "1kg", "袋", "39.00"), ("10050008", "冰糖", "400g", "袋", "6.50"),
    ("10060001", "抽纸", "3层×6包", "提", "15.90"), ("10060002", "卷纸", "10卷", "提", "21.50"),
    ("10060003", "洗衣液", "2kg", "瓶", "35.90"), ("10060004", "洗洁精", "1.5kg", "瓶", "13.90"),
    ("10060005", "牙膏", "120g", "支", "12.80"), ("10060006", "洗发水", "400ml", "瓶", "39.90"),
    ("10060007", "沐浴露", "750ml", "瓶", "36.00"), ("10060008", "湿巾", "80片", "包", "9.90"),
    ("10070001", "白酒 浓香型", "500ml", "瓶", "168.00"), ("10070002", "黄酒 五年陈", "500ml×6", "箱", "96.00"),
    ("10070003", "绿茶 明前", "250g", "盒", "128.00"), ("10070004", "礼盒装坚果", "1.5kg", "盒", "158.00"),
]
ERP_NOTES = ["", "", "", "", "", "", "春节前备货", "客户自提", "按合同价", "加急，当日送达", "月结30天"]
ERP_RETURN_NOTES = ["质量问题退货", "包装破损，退回", "临期退货", "客户拒收", "多发退回"]


def erp_date(d: date, style: str) -> str:
    if style == "iso":
        return d.isoformat()
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    return f"{d.year}年{d.month}月{d.day}日"


def erp_money(x: Decimal) -> str:
    return f"{x:,.2f}"


def make_erp(rng: random.Random) -> dict[str, int]:
    customers = [(f"KH{i + 1:04d}", name, ERP_REPS[i % len(ERP_REPS)]) for i, name in enumerate(ERP_CUSTOMERS)]
    products = [(c, n, s, u, Decimal(p)) for c, n, s, u, p in ERP_PRODUCTS]
    holiday = (date(2024, 1, 1), date(2024, 2, 9), date(2024, 2, 17))  # 元旦; 春节 9-17 Feb
    makeup = {date(2024, 2, 4), date(2024, 2, 18)}  # Sundays worked to make up for the holiday

    def workday(d: date) -> bool:
        if d in makeup:
            return True
        return d.weekday() < 5 and d != holiday[0] and not holiday[1] <= d <= holiday[2]

    workdays = days(date(2024, 1, 2), date(2024, 3, 29), lambda d: not workday(d))
    # the goods each customer never buys in this quarter: returns of them cannot find a sale here
    never = {c[0]: set(rng.sample([p[0] for p in products], 6)) for c in customers}
    docs: list[dict] = []  # document: number, date, style, customer, status, lines
    sales: list[tuple[dict, int]] = []  # completed document lines that may be returned
    for d in workdays:
        quiet = d.month == 2 and d.day < 9 or d in makeup
        for seq in range(1, rng.choice([3, 4, 4, 5, 5, 6]) - (1 if quiet else 0) + 1):
            code, name, (rep, dept) = rng.choice(customers)
            status = "已作废" if rng.random() < 0.05 else "已完成"
            picks = rng.sample([p for p in products if p[0] not in never[code]], min(16, 1 + int(rng.expovariate(1 / 4.5))))
            lines = []
            for p in picks:
                qty = rng.choice([1, 2, 2, 3, 5, 5, 10, 10, 12, 20, 24, 30, 50])
                price = cents(p[4] * Decimal(rng.choice(["1", "1", "1", "1", "0.98", "0.95"])))
                lines.append({"product": p, "qty": qty, "price": price, "ref": ("", "")})
            doc = {"no": f"XS{d:%Y%m%d}{seq:04d}", "date": d, "style": rng.choices(["iso", "slash", "cn"], [6, 3, 2])[0],
                   "customer": (code, name), "rep": (rep, dept), "status": status, "lines": lines,
                   "note": rng.choice(ERP_NOTES if d < date(2024, 2, 9) else ERP_NOTES[:6] + ERP_NOTES[7:])}
            docs.append(doc)
            if status == "已完成":
                sales.extend((doc, i) for i in range(len(lines)))

    # returns (退货, document XT...) after the sales: some name their sale (源单号/源行号)...
    returned: dict[tuple[str, int], int] = {}
    ret_seq: dict[date, int] = {}

    def return_doc(d: date, customer, rep, lines, note) -> None:
        ret_seq[d] = ret_seq.get(d, 0) + 1
        docs.append({"no": f"XT{d:%Y%m%d}{ret_seq[d]:04d}", "date": d, "style": rng.choices(["iso", "slash", "cn"], [6, 3, 2])[0],
                     "customer": customer, "rep": rep, "status": "退货", "lines": lines, "note": note})

    for sale_doc in rng.sample(sorted({id(doc): doc for doc, _ in sales}.values(), key=lambda x: x["no"]), 14):
        later = [d for d in workdays if sale_doc["date"] < d <= sale_doc["date"] + timedelta(days=35)]
        if not later:
            continue
        lines = []
        for i in sorted(rng.sample(range(len(sale_doc["lines"])), min(len(sale_doc["lines"]), rng.choice([1, 1, 2, 3])))):
            sold = sale_doc["lines"][i]
            key = (sale_doc["no"], i + 1)
            left = sold["qty"] - returned.get(key, 0)
            if left <= 0:
                continue
            back = rng.randint(1, left)
            returned[key] = returned.get(key, 0) + back
            lines.append({"product": sold["product"], "qty": -back, "price": sold["price"], "ref": (sale_doc["no"], str(i + 1))})
        if lines:
            return_doc(rng.choice(later), sale_doc["customer"], sale_doc["rep"], lines, rng.choice(ERP_RETURN_NOTES))
    # ...and some return goods bought before this quarter: no reference, and no sale of that
    # customer and product anywhere in the file
    for _ in range(11):
        code, name, rep = rng.choice(customers)
        goods = rng.sample(sorted(never[code]), rng.choice([1, 1, 2, 3]))
        lines = [{"product": p, "qty": -rng.choice([1, 2, 3, 5, 10]), "price": p[4], "ref": ("", "")}
                 for p in products if p[0] in goods]
        return_doc(rng.choice(workdays[3:]), (code, name), rep, lines, rng.choice(ERP_RETURN_NOTES + ["上年度货品退回"]))

    docs.sort(key=lambda doc: (doc["date"], doc["no"]))
    rows = []
    for doc in docs:
        for i, ln in enumerate(doc["lines"], 1):
            code, name, spec, unit, _ = ln["product"]
            amount = cents(ln["price"] * ln["qty"])
            rows.append([erp_date(doc["date"], doc["style"]), doc["no"], str(i), doc["customer"][0], doc["customer"][1],
                         code, name, spec, unit, str(ln["qty"]), f"{ln['price']:.2f}", erp_money(amount), "13%",
                         doc["rep"][0], doc["rep"][1], doc["status"], ln["ref"][0], ln["ref"][1], doc["note"]])
    header = ["单据日期", "单据编号", "行号", "客户编码", "客户名称", "商品编码", "商品名称", "规格型号", "单位", "数量",
              "含税单价", "含税金额", "税率", "业务员", "部门", "单据状态", "源单号", "源行号", "备注"]
    write(HERE / "erp_gbk" / "xsmx_2024Q1.csv", csv_text(header, rows, newline="\r\n").encode("gbk"))
    status = [r[15] for r in rows]
    return {"rows": len(rows), "returns with a reference": sum(1 for r in rows if r[16]),
            "returns without": sum(1 for r in rows if r[15] == "退货" and not r[16]), "voided": status.count("已作废")}


# =========================================================================== 3. European export in cp1252
# A German tools wholesaler's Verkaufsjournal from a Windows accounting package: cp1252,
# ";" separated, decimal comma and "." thousands, dd.mm.yyyy, "€" in the currency column,
# discounts written as accounting negatives "(12,50)" on their own lines.

EU_CUSTOMERS = [
    ("10001", "Müller Eisenwaren GmbH", "Köln", "DE"), ("10002", "Bäckerei Schäfer KG", "München", "DE"),
    ("10003", "Café Señor Álvarez S.L.", "Sevilla", "ES"), ("10004", "Æbeltoft Møbler ApS", "Æbeltoft", "DK"),
    ("10005", "Šimek s.r.o.", "Brno", "CZ"), ("10006", "Œnothèque Dubois SARL", "Lyon", "FR"),
    ("10007", "Kärntner Holzbau GmbH", "Klagenfurt", "AT"), ("10008", "Zürcher Papeterie AG", "Zürich", "CH"),
    ("10009", "Østergaard Handel A/S", "Aarhus", "DK"), ("10010", "Hôtel du Lac", "Annecy", "FR"),
    ("10011", "Größer & Söhne OHG", "Düsseldorf", "DE"), ("10012", "Jönsson Bygg AB", "Malmö", "SE"),
    ("10013", "Žilina Stavby s.r.o.", "Žilina", "SK"), ("10014", "Brouwerij De Gouden Leeuw", "Gent", "BE"),
    ("10015", "Hausmeisterservice Weiß", "Dresden", "DE"), ("10016", "Tischlerei Köhler", "Leipzig", "DE"),
    ("10017", "Ferretería Muñoz", "Málaga", "ES"), ("10018", "Bauhof Fürth", "Fürth", "DE"),
    ("10019", "Rørvig Byg ApS", "Nykøbing Sj.", "DK"), ("10020", "Gärtnerei Blümel", "Graz", "AT"),
    ("10021", "Van der Berg Bouw B.V.", "Utrecht", "NL"), ("10022", "Schlosserei Groß", "Nürnberg", "DE"),
    ("10023", "Quincaillerie Lefèvre", "Strasbourg", "FR"), ("10024", "Elektro Novák", "Praha", "CZ"),
    ("10025", "Malerbetrieb Jäger", "Stuttgart", "DE"), ("10026", "Dachdeckerei Möller", "Hamburg", "DE"),
    ("10027", "Ebanistería Peña", "Zaragoza", "ES"), ("10028", "Holzhandel Öztürk", "Berlin", "DE"),
]
EU_ARTICLES = [
    ("4711-06", "Schrauben M6 × 40, verzinkt", "Stk", "0,0450"), ("4711-08", "Schrauben M8 × 60, verzinkt", "Stk", "0,0720"),
    ("4712-10", "Dübel 8 mm", "Stk", "0,0390"), ("4713-01", "Unterlegscheiben M6; DIN 125", "Stk", "0,0110"),
    ("5120-01", "Holzleim 500 g", "Stk", "6,95"), ("5120-02", "Montagekleber „Extra“ 310 ml", "Stk", "8,40"),
    ("5210-05", "Schleifpapier K120; 50 Stk.", "Pkg", "14,90"), ("5210-06", "Schleifpapier K240; 50 Stk.", "Pkg", "14,90"),
    ("5300-02", "Maßband 5 m", "Stk", "9,80"), ("5300-03", 'Zollstock 2 m "Classic"', "Stk", "7,25"),
    ("5400-01", "Kabel NYM-J 3×1,5 mm²", "m", "1,19"), ("5400-02", "Kabel NYM-J 5×2,5 mm²", "m", "2,87"),
    ("5500-10", "Akku-Bohrschrauber 18 V", "Stk", "189,00"), ("5500-11", "Winkelschleifer 125 mm", "Stk", "119,50"),
    ("5500-20", "Kompressor 50 l", "Stk", "1.089,90"), ("5600-01", "Werkbank „Profi“ 2 m", "Stk", "1.249,00"),
    ("5700-01", "Schutzhandschuhe Gr. 9", "Paar", "3,45"), ("5700-02", "Schutzbrille klar", "Stk", "5,60"),
    ("5800-01", "Silikon weiß 310 ml", "Stk", "4,75"), ("5800-02", "Acryl grau 310 ml", "Stk", "3,95"),
    ("5900-01", "Spanplatte 19 mm, 2.800 × 2.070", "Stk", "48,50"), ("5900-02", "OSB-Platte 18 mm", "m²", "9,85"),
    ("6000-01", "Leiter Alu 3 × 8 Sprossen", "Stk", "239,00"), ("6000-02", "Gerüstbock höhenverstellbar", "Stk", "64,90"),
    ("6100-01", "Farbe Weiß matt 10 l", "Eimer", "54,90"), ("6100-02", "Grundierung 5 l", "Eimer", "29,95"),
    ("6200-01", "Kantholz 60 × 80 mm", "m", "3,62"), ("6200-02", "Dachlatte 30 × 50 mm", "m", "0,98"),
]
EU_REPS = ["H. Weiß", "J. Köhler", "M. Dupré", "S. Nørgaard"]
EU_DISCOUNTS = ["Sonderrabatt", "Treuerabatt", "Skonto-Gutschrift"]


def de_number(x: Decimal, places: int | None = None) -> str:
    """1234.5 -> '1.234,50' (places=2); 1200 -> '1.200'; 12.5 -> '12,5' (places=None: as needed)."""
    if places is None:
        places = max(0, -x.normalize().as_tuple().exponent)
    text = f"{x:,.{places}f}"
    return text.translate(str.maketrans(",.", ".,"))


def parse_de(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


def make_eu(rng: random.Random) -> dict[str, int]:
    holidays = {date(2024, 5, 1), date(2024, 5, 9), date(2024, 5, 20), date(2024, 5, 30)}
    workdays = days(date(2024, 4, 2), date(2024, 6, 28), lambda d: d.weekday() >= 5 or d in holidays)
    articles = [(a, b, u, parse_de(p)) for a, b, u, p in EU_ARTICLES]
    weights = [rng.paretovariate(1.5) for _ in EU_CUSTOMERS]
    number = 24_0417
    rows: list[list[str]] = []
    paren = 0
    big = 0
    for d in workdays:
        for _ in range(rng.choice([2, 3, 3, 4])):
            number += rng.randint(1, 4)
            kd, name, city, land = rng.choices(EU_CUSTOMERS, weights)[0]
            rep = EU_REPS[int(kd) % len(EU_REPS)]
            lines = []
            for a, text, unit, price in rng.sample(articles, min(9, 1 + int(rng.expovariate(1 / 3.6)))):
                if unit == "Stk" and price < 1:
                    qty = Decimal(rng.choice([200, 500, 1000, 1200, 2500, 5000]))
                elif unit in ("m", "m²"):
                    qty = Decimal(rng.choice(["12,5", "25", "50", "100", "7,5", "30"]).replace(",", "."))
                elif price >= 100:
                    qty = Decimal(rng.choice([1, 1, 1, 2]))
                else:
                    qty = Decimal(rng.choice([1, 1, 2, 3, 5, 10, 12, 20]))
                lines.append((a, text, qty, unit, price))
            if rng.random() < 0.05:
                value = Decimal(rng.choice(["12,50", "25,00", "7,35", "18,90", "40,00"]).replace(",", "."))
                lines.append(("RABATT", rng.choice(EU_DISCOUNTS), Decimal(1), "Stk", -value))
            for pos, (a, text, qty, unit, price) in enumerate(lines, 1):
                amount = cents(qty * price)
                if price < 0:
                    paren += 1
                    price_s, amount_s = f"({de_number(-price, 2)})", f"({de_number(-amount, 2)})"
                else:
                    places = 4 if price < 1 else 2
                    price_s, amount_s = de_number(price, places), de_number(amount, 2)
                    big += amount >= 1000
                rows.append([f"RE{number}", str(pos), f"{d:%d.%m.%Y}", kd, name, city, land, a, text,
                             de_number(qty), unit, price_s, amount_s, "€", rep])
    # one large goodwill credit on its own invoice: a bracketed amount above 1.000
    number += 1
    kd, name, city, land = EU_CUSTOMERS[0]
    rows.append([f"RE{number}", "1", "27.06.2024", kd, name, city, land, "RABATT", "Jahresbonus 2023", "1", "Stk",
                 "(1.050,00)", "(1.050,00)", "€", EU_REPS[int(kd) % len(EU_REPS)]])
    paren += 1
    header = ["Belegnr", "Pos", "Belegdatum", "Kundennr", "Kundenname", "Ort", "Land", "Artikelnr", "Bezeichnung",
              "Menge", "Einheit", "Einzelpreis", "Betrag", "Währung", "Vertreter"]
    write(HERE / "eu_cp1252" / "Verkaufsjournal_2024-Q2.csv", csv_text(header, rows, delimiter=";", newline="\r\n").encode("cp1252"))
    return {"rows": len(rows), "bracketed amounts": paren, "amounts >= 1.000": big}


# =========================================================================== 4. daily multi-file export
# A B2B web shop's nightly job writes one gzipped CSV per day. A return is a line of its own
# (negative Qty, its own RMA number) in the file of the day the goods came back, naming the
# order and line it reverses. The job occasionally writes a line twice.

DAILY_SKUS = [(f"SKU-{1000 + i}", Decimal(p)) for i, p in enumerate(
    ["19.99", "4.50", "129.00", "12.95", "7.49", "39.90", "2.35", "89.00", "15.00", "24.99", "9.95", "64.50",
     "5.25", "199.00", "11.40", "33.33", "0.99", "74.95", "18.60", "45.00", "8.75", "149.90", "27.80", "3.10"])]
DAILY_REPS = ["R01", "R02", "R03", "R04", "R05", "R06", ""]


def make_daily(rng: random.Random) -> dict[str, int]:
    dates = days(date(2024, 5, 22), date(2024, 6, 10))
    customers = [f"C-{10000 + i}" for i in rng.sample(range(1, 900), 220)]
    rep_of = {c: rng.choice(DAILY_REPS) for c in customers}
    header = ["Order ID", "Line", "Date", "Customer", "SKU", "Qty", "Price", "Rep", "Return Of Order", "Return Of Line"]
    order = 4_100_230
    rma = 10_050
    sold: list[dict] = []  # sale lines that may come back
    stats = {"files": 0, "rows": 0, "returns": 0, "returns of May sales in June": 0, "duplicates": 0}
    for i, d in enumerate(dates):
        rows = []
        for _ in range(rng.randint(14, 26)):
            order += rng.randint(1, 3)
            cust = rng.choice(customers)
            for line, (sku, price) in enumerate(rng.sample(DAILY_SKUS, rng.choice([1, 1, 2, 2, 3, 4, 6])), 1):
                qty = rng.choice([1, 1, 1, 2, 2, 3, 5, 10])
                if rng.random() < 0.1:
                    price = cents(price * Decimal("0.9"))  # a promotion
                rows.append([str(order), str(line), d.isoformat(), cust, sku, str(qty), f"{price:.2f}", rep_of[cust], "", ""])
                sold.append({"order": str(order), "line": line, "date": d, "cust": cust, "sku": sku, "qty": qty,
                             "left": qty, "price": price, "rep": rep_of[cust]})
        if i:
            # returns of sales from earlier files (1 to 16 days back)
            pool = [s for s in sold if s["left"] > 0 and 1 <= (d - s["date"]).days <= 16]
            for s in rng.sample(pool, min(len(pool), rng.randint(2, 5))):
                rma += 1
                back = rng.randint(1, s["left"])
                s["left"] -= back
                rows.append([f"RMA{rma}", "1", d.isoformat(), s["cust"], s["sku"], str(-back), f"{s['price']:.2f}", s["rep"],
                             s["order"], str(s["line"])])
                stats["returns"] += 1
                stats["returns of May sales in June"] += s["date"].month == 5 and d.month == 6
        if i % 8 == 3:
            k = rng.choice([j for j, r in enumerate(rows) if not r[8]])
            rows.insert(k + 1, list(rows[k]))  # the job wrote a line twice
            stats["duplicates"] += 1
        data = csv_text(header, rows).encode("utf-8")
        write(HERE / "daily" / f"sales_{d.isoformat()}.csv.gz", gzip.compress(data, compresslevel=9, mtime=0))
        stats["files"] += 1
        stats["rows"] += len(rows)
    return stats


def main() -> None:
    for name, make, k in (("shop", make_shop, 1), ("erp_gbk", make_erp, 2), ("eu_cp1252", make_eu, 3), ("daily", make_daily, 4)):
        stats = make(random.Random(SEED + k))
        print(f"{name}: " + ", ".join(f"{v:,} {key}" for key, v in stats.items()))


if __name__ == "__main__":
    main()
