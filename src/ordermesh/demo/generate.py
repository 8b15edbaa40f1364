"""Write the demo catalog (skus.csv) and opening stock (stock.csv) for the fictional brand
"Saanjh Living", a D2C seller of apparel, footwear, beauty, accessories, home and food.

Run ``python -m ordermesh.demo.generate`` after changing the families below; the output is
deterministic (a seeded generator), so the shipped files only change when this file does.
Barcodes are EAN-13 under the Indian GS1 prefix 890 (books: ISBN-13 in the 978-93 range), with
computed check digits. GST rates follow the rate schedule by HSN (apparel and footwear by price).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from ordermesh.services.catalog import CSV_COLUMNS

HERE = Path(__file__).parent
COMPANY_PREFIX = "8906123"  # 890 = GS1 India; a made-up 7-digit company prefix
ISBN_PREFIX = "97893"  # ISBN group 93 = India
LOCATIONS = ("BHW01", "GGN01", "BLR01")

SKU_COLUMNS = CSV_COLUMNS  # the catalog import format, so the file loads with `catalog import`
STOCK_COLUMNS = ("sku", "location", "quantity", "low_stock_threshold")


def check_digit(body: str) -> str:
    """The GS1 check digit for the digits of an EAN-13 without its last digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Family:
    code: str
    name: str
    hsn: str
    gst_rate: str
    mrp: int
    weight_g: int
    dims: tuple[str, str, str]
    sizes: tuple[str, ...] = ("",)
    colours: tuple[str, ...] = ("",)
    category: str = "apparel"
    barcode: bool = True
    weight_step: int = 0  # grams added per size step
    active: bool = True


APPAREL_SIZES = ("S", "M", "L", "XL", "XXL")

FAMILIES: tuple[Family, ...] = (
    # Apparel: HSN 61xx knitted, 62xx woven; 5% up to Rs 1000 a piece, 12% above.
    Family(
        "TS-CREW",
        "Men's Organic Cotton Crew-Neck T-Shirt",
        "6109",
        "5",
        699,
        180,
        ("30", "25", "2"),
        APPAREL_SIZES,
        ("Black", "White", "Navy"),
        weight_step=10,
    ),
    Family(
        "TS-KIDS",
        "Kids' Cotton Printed T-Shirt",
        "6109",
        "5",
        449,
        110,
        ("25", "20", "2"),
        ("2-3Y", "4-5Y", "6-7Y", "8-9Y"),
        ("Yellow", "Sky Blue"),
        weight_step=10,
    ),
    Family(
        "LEG-ANKLE",
        "Women's Ankle-Length Cotton Lycra Leggings",
        "6104",
        "5",
        599,
        160,
        ("28", "22", "2"),
        APPAREL_SIZES,
        ("Black", "Maroon", "Teal", "Beige"),
        weight_step=8,
    ),
    Family(
        "KRT-SET",
        "Women's Block-Print Kurta and Palazzo Set",
        "6204",
        "12",
        1899,
        420,
        ("35", "28", "4"),
        ("XS", "S", "M", "L", "XL"),
        ("Indigo", "Mustard"),
        weight_step=15,
    ),
    Family(
        "SHT-LINEN",
        "Men's Pure Linen Shirt, Full Sleeve",
        "6205",
        "12",
        2199,
        260,
        ("32", "26", "3"),
        ("38", "40", "42", "44"),
        ("White", "Sky Blue"),
        weight_step=10,
    ),
    Family(
        "KRT-MEN",
        "Men's Cotton Slub Short Kurta",
        "6205",
        "5",
        999,
        240,
        ("32", "26", "3"),
        APPAREL_SIZES,
        ("Olive",),
        weight_step=10,
    ),
    Family(
        "SAR-CTN",
        "Handloom Cotton Saree with Blouse Piece",
        "5208",
        "5",
        2499,
        550,
        ("36", "26", "5"),
        colours=("Red Border", "Green Border", "Ivory Zari"),
    ),
    Family(
        "SAR-SILK",
        "Chanderi Silk Saree with Blouse Piece",
        "5007",
        "5",
        4999,
        500,
        ("36", "26", "5"),
        colours=("Peach", "Royal Blue", "Magenta"),
    ),
    Family(
        "KRT-FEST23",
        "Festive Edit 2023 Embroidered Kurta (discontinued)",
        "6204",
        "12",
        2499,
        380,
        ("35", "28", "4"),
        ("M", "L"),
        ("Wine",),
        active=False,
    ),
    # Footwear: HSN 64xx; 12% up to Rs 1000 a pair, 18% above.
    Family(
        "LOAF-LTHR",
        "Men's Leather Penny Loafers",
        "6403",
        "18",
        2999,
        850,
        ("33", "22", "12"),
        ("UK7", "UK8", "UK9", "UK10", "UK11"),
        ("Tan", "Black"),
        "footwear",
        weight_step=30,
    ),
    Family(
        "SNK-CNVS",
        "Unisex Canvas Low-Top Sneakers",
        "6404",
        "18",
        1299,
        700,
        ("32", "20", "11"),
        ("UK4", "UK5", "UK6", "UK7", "UK8", "UK9", "UK10"),
        ("White", "Olive"),
        "footwear",
        weight_step=25,
    ),
    Family(
        "KOLH-FLAT",
        "Women's Kolhapuri Leather Flats",
        "6403",
        "12",
        899,
        400,
        ("28", "18", "8"),
        ("UK4", "UK5", "UK6", "UK7", "UK8"),
        ("Tan",),
        "footwear",
        weight_step=15,
    ),
    Family(
        "FLIP-RBR",
        "Men's Rubber Flip-Flops",
        "6402",
        "12",
        349,
        300,
        ("30", "12", "5"),
        ("UK6", "UK7", "UK8", "UK9", "UK10"),
        ("Charcoal",),
        "footwear",
        weight_step=10,
    ),
    # Beauty: HSN 3304 make-up and skin care, 3305 hair care, 3401 face wash; 18%.
    Family(
        "KUM-OIL-30", "Kumkumadi Radiance Face Oil 30 ml", "3304", "18", 895, 110, ("12", "5", "5"), category="beauty"
    ),
    Family("VITC-SER-30", "Vitamin C 10% Face Serum 30 ml", "3304", "18", 699, 95, ("12", "5", "5"), category="beauty"),
    Family(
        "SUN-SPF50",
        "Sunscreen Gel SPF 50 PA++++ 50 g",
        "3304",
        "18",
        499,
        75,
        ("15", "5", "4"),
        category="beauty",
    ),
    Family(
        "LIP-MATTE",
        "Long-Stay Matte Lipstick 4.2 g",
        "3304",
        "18",
        549,
        30,
        ("9", "3", "3"),
        colours=("Rosewood", "Brick Red", "Mauve", "Nude Pink", "Berry", "Coral", "Chilli Red", "Cocoa"),
        category="beauty",
    ),
    Family(
        "KAJAL",
        "Smudge-Proof Kajal Pencil 0.35 g",
        "3304",
        "18",
        299,
        15,
        ("14", "2", "2"),
        colours=("Black", "Brown"),
        category="beauty",
    ),
    Family(
        "HAIR-BHRG",
        "Bhringraj Ayurvedic Hair Oil",
        "3305",
        "18",
        399,
        230,
        ("18", "6", "6"),
        ("100 ml", "200 ml"),
        category="beauty",
        weight_step=110,
    ),
    Family("FW-UBTAN", "Ubtan Face Wash 100 ml", "3401", "18", 349, 130, ("16", "5", "4"), category="beauty"),
    # Bags: HSN 4202, 18%.
    Family(
        "BAG-TOTE",
        "Printed Canvas Tote Bag",
        "4202",
        "18",
        799,
        250,
        ("40", "35", "2"),
        colours=("Natural", "Black", "Madras Check"),
        category="bags",
    ),
    Family(
        "BAG-LAPTOP",
        "Water-Resistant Laptop Backpack 15.6 inch",
        "4202",
        "18",
        2499,
        750,
        ("45", "30", "12"),
        colours=("Grey", "Navy"),
        category="bags",
    ),
    Family(
        "BAG-SLING",
        "Leather Crossbody Sling Bag",
        "4202",
        "18",
        1999,
        450,
        ("25", "18", "8"),
        colours=("Tan", "Black"),
        category="bags",
    ),
    # Imitation jewellery: HSN 7117, 3%. Handmade pieces carry no barcode.
    Family(
        "JHMK-OXD",
        "Oxidised Silver-Tone Jhumka Earrings",
        "7117",
        "3",
        499,
        40,
        ("10", "8", "3"),
        colours=("Peacock", "Lotus", "Temple Bell", "Mirror Work", "Ghungroo", "Coin Drop"),
        category="jewellery",
        barcode=False,
    ),
    Family(
        "NKLC-KNDN",
        "Kundan Choker Necklace Set with Earrings",
        "7117",
        "3",
        1499,
        120,
        ("20", "15", "4"),
        colours=("Ruby Red", "Emerald Green", "Pearl White"),
        category="jewellery",
        barcode=False,
    ),
    Family(
        "BNGL-SET",
        "Glass Bangles, Set of 12",
        "7117",
        "3",
        349,
        180,
        ("10", "10", "6"),
        ("2.4", "2.6", "2.8"),
        ("Gold Dust", "Maroon"),
        category="jewellery",
        barcode=False,
        weight_step=10,
    ),
    # Home: bed and bath linen 6302 (5% up to Rs 1000, 12% above), furnishings 6304, bottles 7323/7418.
    Family(
        "BED-DBL",
        "Cotton 180 TC Double Bedsheet with 2 Pillow Covers",
        "6302",
        "12",
        1299,
        900,
        ("32", "26", "6"),
        colours=("Jaipuri Floral", "Indigo Dabu", "Sage Stripe", "Terracotta Buti"),
        category="home",
    ),
    Family(
        "TWL-BATH",
        "Cotton Terry Bath Towel 500 GSM",
        "6302",
        "5",
        499,
        450,
        ("30", "20", "6"),
        colours=("White", "Grey", "Teal", "Peach"),
        category="home",
    ),
    Family(
        "CSHN-SET5",
        "Cotton Cushion Covers 16x16 in, Set of 5",
        "6304",
        "5",
        799,
        350,
        ("30", "25", "4"),
        colours=("Ikat Blue", "Mustard Ajrakh", "Kantha Pink"),
        category="home",
    ),
    Family(
        "BTL-STEEL",
        "Insulated Stainless Steel Water Bottle",
        "7323",
        "12",
        899,
        380,
        ("8", "8", "27"),
        ("500 ml", "750 ml", "1 L"),
        category="home",
        weight_step=70,
    ),
    Family("BTL-COPPER", "Pure Copper Water Bottle 1 L", "7418", "12", 1199, 520, ("8", "8", "28"), category="home"),
    Family(
        "AGR-STICK",
        "Natural Masala Incense Sticks, 100 g",
        "3307",
        "5",
        149,
        110,
        ("24", "6", "3"),
        colours=("Sandalwood", "Mogra", "Rose", "Nag Champa"),
        category="home",
    ),
    # Electronics accessories: earphones 8518, cables 8544, power banks 8507; 18%.
    Family(
        "EAR-TWS",
        "True Wireless Earbuds with 40 h Playback",
        "8518",
        "18",
        1999,
        150,
        ("10", "8", "5"),
        colours=("Black", "White", "Blue"),
        category="electronics",
    ),
    Family(
        "EAR-NECK",
        "Bluetooth Neckband Earphones",
        "8518",
        "18",
        1299,
        120,
        ("18", "12", "4"),
        colours=("Black", "Red"),
        category="electronics",
    ),
    Family(
        "EAR-WIRED", "Wired Earphones with Mic, 3.5 mm", "8518", "18", 399, 60, ("12", "8", "3"), category="electronics"
    ),
    Family(
        "CBL-USBC",
        "Braided USB-C to USB-C Cable 60 W",
        "8544",
        "18",
        499,
        60,
        ("12", "8", "2"),
        ("1 m", "2 m"),
        category="electronics",
        weight_step=20,
    ),
    Family("CBL-LTNG", "USB-C to Lightning Cable 1 m", "8544", "18", 699, 55, ("12", "8", "2"), category="electronics"),
    Family(
        "PWR-BANK",
        "Power Bank, 22.5 W Fast Charging",
        "8507",
        "18",
        1499,
        230,
        ("15", "8", "3"),
        ("10000 mAh", "20000 mAh"),
        category="electronics",
        weight_step=170,
    ),
    # Packaged food: tea 0902 and honey 0409 at 5%, namkeen 2106 at 12%, protein bars 2106 at 18%.
    Family(
        "TEA-ASSAM",
        "Assam CTC Tea",
        "0902",
        "5",
        220,
        270,
        ("15", "9", "5"),
        ("250 g", "500 g"),
        category="food",
        weight_step=250,
    ),
    Family(
        "TEA-DARJ",
        "Darjeeling First Flush Loose Leaf Tea 100 g",
        "0902",
        "5",
        650,
        140,
        ("12", "8", "8"),
        category="food",
    ),
    Family(
        "HNY-WILD",
        "Raw Wild Forest Honey",
        "0409",
        "5",
        349,
        420,
        ("8", "8", "12"),
        ("250 g", "500 g"),
        category="food",
        weight_step=260,
    ),
    Family(
        "NMK-BHUJIA",
        "Bikaneri Bhujia Namkeen",
        "2106",
        "12",
        110,
        220,
        ("25", "15", "5"),
        ("200 g", "400 g"),
        category="food",
        weight_step=200,
    ),
    Family(
        "PROT-BAR",
        "Protein Bar 20 g Protein, Box of 6",
        "2106",
        "18",
        540,
        400,
        ("18", "12", "5"),
        colours=("Peanut Butter", "Choco Almond", "Coffee Mocha"),
        category="food",
    ),
    Family(
        "CHAI-PRMX",
        "Masala Chai Instant Premix, 10 Sachets",
        "2106",
        "18",
        199,
        160,
        ("16", "10", "4"),
        category="food",
    ),
)

# Books: HSN 4901, nil-rated. Fictional titles from a fictional Pune publisher; ISBN-13 barcodes.
BOOKS: tuple[tuple[str, str, int, int], ...] = (
    ("BK-KONKAN-RECIPES", "Monsoon Recipes from the Konkan Coast (Paperback)", 499, 420),
    ("BK-WGHATS-BIRDS", "Birds of the Western Ghats: A Pocket Field Guide", 650, 380),
    ("BK-HINDI-30", "Conversational Hindi in 30 Days (Paperback)", 299, 300),
    ("BK-MILLETS", "The Millet Kitchen: Everyday Indian Recipes", 399, 350),
    ("BK-BLOCKPRINT", "Block Printing in Bagru and Sanganer (Hardcover)", 1299, 900),
    ("BK-STARTUP-GST", "GST for Small Online Sellers, 2nd Edition", 449, 330),
)

# Combos sold as one listing; their stock follows from the components'.
BUNDLES: tuple[tuple[str, str, str, str, int, tuple[tuple[str, int], ...]], ...] = (
    (
        "COMBO-TEE3-M",
        "Everyday Crew-Neck Tee, Pack of 3 (Black, White, Navy), M",
        "6109",
        "5",
        1799,
        (("TS-CREW-BLK-M", 1), ("TS-CREW-WHT-M", 1), ("TS-CREW-NVY-M", 1)),
    ),
    (
        "COMBO-TEE3-L",
        "Everyday Crew-Neck Tee, Pack of 3 (Black, White, Navy), L",
        "6109",
        "5",
        1799,
        (("TS-CREW-BLK-L", 1), ("TS-CREW-WHT-L", 1), ("TS-CREW-NVY-L", 1)),
    ),
    (
        "COMBO-GLOW",
        "Glow Ritual Kit: Kumkumadi Oil, Vitamin C Serum and SPF 50",
        "3304",
        "18",
        1899,
        (("KUM-OIL-30", 1), ("VITC-SER-30", 1), ("SUN-SPF50", 1)),
    ),
    (
        "COMBO-CHAI",
        "Chai Time Combo: Assam CTC 250 g x2 and Bhujia 200 g",
        "2106",
        "12",
        499,
        (("TEA-ASSAM-250G", 2), ("NMK-BHUJIA-200G", 1)),
    ),
    (
        "COMBO-BEDBATH",
        "Bed and Bath Set: Double Bedsheet and 2 Bath Towels",
        "6302",
        "12",
        2099,
        (("BED-DBL-INDIGO-DABU", 1), ("TWL-BATH-WHT", 2)),
    ),
    (
        "COMBO-FESTIVE",
        "Festive Jewellery Combo: Jhumkas and Bangles (2.6)",
        "7117",
        "3",
        749,
        (("JHMK-OXD-PEACOCK", 1), ("BNGL-SET-MRN-2-6", 1)),
    ),
    (
        "COMBO-AUDIO",
        "Audio Duo: Wireless Earbuds and USB-C Cable",
        "8518",
        "18",
        2299,
        (("EAR-TWS-BLK", 1), ("CBL-USBC-1M", 1)),
    ),
)

SHORT = {
    "Black": "BLK",
    "White": "WHT",
    "Navy": "NVY",
    "Yellow": "YLW",
    "Sky Blue": "SKY",
    "Maroon": "MRN",
    "Teal": "TEL",
    "Beige": "BGE",
    "Indigo": "IND",
    "Mustard": "MST",
    "Olive": "OLV",
    "Tan": "TAN",
    "Grey": "GRY",
    "Blue": "BLU",
    "Red": "RED",
    "Wine": "WIN",
    "Charcoal": "CHR",
    "Natural": "NAT",
    "Peach": "PCH",
}


def _token(text: str) -> str:
    if text in SHORT:
        return SHORT[text]
    return "-".join(part for part in "".join(c if c.isalnum() else " " for c in text.upper()).split())


def _variant_code(family: Family, size: str, colour: str) -> str:
    parts = [family.code]
    if colour:
        parts.append(_token(colour))
    if size:
        # "250 g" -> 250G, "10000 mAh" -> 10000MAH, "2-3Y" -> 2-3Y, "2.4" -> 2-4
        parts.append(size.replace(" ", "").upper() if size[0].isdigit() and " " in size else _token(size))
    return "-".join(parts)


def _variant_name(family: Family, size: str, colour: str) -> str:
    extra = [x for x in (colour, f"Size {size}" if size and family.category in ("apparel", "footwear") else size) if x]
    return ", ".join([family.name, *extra])


def sku_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    item = 0
    for family in FAMILIES:
        for colour in family.colours:
            for step, size in enumerate(family.sizes):
                item += 1
                body = f"{COMPANY_PREFIX}{item:05d}"
                mrp = family.mrp + (step * 100 if family.category in ("food", "electronics", "home") and size else 0)
                if family.code in ("HAIR-BHRG",) and step:
                    mrp = 699
                rows.append(
                    {
                        "code": _variant_code(family, size, colour),
                        "name": _variant_name(family, size, colour),
                        "hsn": family.hsn,
                        "gst_rate": family.gst_rate,
                        "mrp": f"{mrp}.00",
                        "weight_g": str(family.weight_g + step * family.weight_step),
                        "length_cm": family.dims[0],
                        "breadth_cm": family.dims[1],
                        "height_cm": family.dims[2],
                        "barcodes": body + check_digit(body) if family.barcode else "",
                        "components": "",
                        "active": "true" if family.active else "false",
                    }
                )
    for n, (code, name, mrp, weight) in enumerate(BOOKS, start=1):
        body = f"{ISBN_PREFIX}8{n + 7000:06d}"
        rows.append(
            {
                "code": code,
                "name": name,
                "hsn": "4901",
                "gst_rate": "0",
                "mrp": f"{mrp}.00",
                "weight_g": str(weight),
                "length_cm": "22",
                "breadth_cm": "14",
                "height_cm": "2",
                "barcodes": body + check_digit(body),
                "components": "",
                "active": "true",
            }
        )
    codes = {r["code"] for r in rows}
    for code, name, hsn, rate, mrp, components in BUNDLES:
        missing = [c for c, _ in components if c not in codes]
        if missing:
            raise SystemExit(f"bundle {code} names unknown components {missing}")
        weight = sum(int(next(r for r in rows if r["code"] == c)["weight_g"]) * q for c, q in components)
        item += 1
        body = f"{COMPANY_PREFIX}{item:05d}"
        rows.append(
            {
                "code": code,
                "name": name,
                "hsn": hsn,
                "gst_rate": rate,
                "mrp": f"{mrp}.00",
                "weight_g": str(weight),
                "length_cm": "",
                "breadth_cm": "",
                "height_cm": "",
                "barcodes": body + check_digit(body),
                "components": "|".join(f"{c}:{q}" for c, q in components),
                "active": "true",
            }
        )
    return rows


# Where each category is stocked: Bhiwandi (west) carries the most, Gurugram (north) the fast
# movers, Bengaluru (south) beauty, electronics and books.
STOCKED_AT: dict[str, tuple[tuple[str, float], ...]] = {
    "apparel": (("BHW01", 1.0), ("GGN01", 0.7), ("BLR01", 0.4)),
    "footwear": (("BHW01", 1.0), ("GGN01", 0.6)),
    "beauty": (("BLR01", 1.0), ("BHW01", 0.6), ("GGN01", 0.5)),
    "bags": (("BHW01", 1.0), ("BLR01", 0.5)),
    "jewellery": (("BHW01", 1.0), ("BLR01", 0.7)),
    "home": (("BHW01", 1.0), ("GGN01", 0.5)),
    "electronics": (("BLR01", 1.0), ("GGN01", 0.8), ("BHW01", 0.4)),
    "food": (("GGN01", 1.0), ("BHW01", 0.8)),
    "books": (("BLR01", 1.0), ("GGN01", 0.5)),
}


def stock_rows(skus: list[dict[str, str]]) -> list[dict[str, str]]:
    rng = random.Random(20240615)
    category = {_variant_code(f, s, c): f.category for f in FAMILIES for c in f.colours for s in f.sizes}
    category.update({code: "books" for code, *_ in BOOKS})
    rows: list[dict[str, str]] = []
    for sku in skus:
        code = sku["code"]
        if sku["components"] or sku["active"] != "true":
            continue  # bundles hold no stock of their own; discontinued SKUs are sold out
        roll = rng.random()
        if roll < 0.04:
            continue  # never received: zero everywhere
        for location, share in STOCKED_AT[category[code]]:
            if rng.random() > share:
                continue
            quantity = rng.randint(8, 120)
            threshold = ""
            if roll > 0.93:  # running low, with an alert threshold
                quantity, threshold = rng.randint(1, 4), str(rng.choice((5, 10)))
            elif roll > 0.85:
                threshold = str(rng.choice((10, 15, 20)))
            rows.append(
                {"sku": code, "location": location, "quantity": str(quantity), "low_stock_threshold": threshold}
            )
    # A sold-out bestseller with its alert threshold set (the policy row holds zero units).
    rows = [r for r in rows if (r["sku"], r["location"]) != ("TS-CREW-NVY-XXL", "GGN01")]
    rows.append({"sku": "TS-CREW-NVY-XXL", "location": "GGN01", "quantity": "0", "low_stock_threshold": "10"})
    return rows


def write(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    skus = sku_rows()
    if len({r["code"] for r in skus}) != len(skus):
        raise SystemExit("duplicate SKU codes")
    write(HERE / "skus.csv", SKU_COLUMNS, skus)
    write(HERE / "stock.csv", STOCK_COLUMNS, stock_rows(skus))
    print(f"wrote {len(skus)} SKUs to {HERE / 'skus.csv'}")


if __name__ == "__main__":
    main()
