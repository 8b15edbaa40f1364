"""What the three documents share: the font (and so the rupee sign), money and weight text, addresses,
and Code128 barcodes drawn with proper quiet zones.

Fonts: DejaVu Sans (Debian's fonts-dejavu-core) has ₹ (U+20B9); ReportLab's built-in Helvetica does
not. It is registered once and embedded (subset) in every PDF. Where the TTF is missing the documents
still render, in Helvetica, and write "Rs." instead of ₹ (:data:`RUPEE` tells which).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIRS = (
    os.environ.get("ORDERMESH_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",  # Debian / Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu",  # Fedora, Arch
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
)
PAISA = Decimal("0.01")


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    rupee: str  # "₹" when the font has it, else "Rs."
    embedded: bool  # True: DejaVu Sans, embedded


def _find(name: str) -> Path | None:
    for folder in FONT_DIRS:
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


@cache
def fonts() -> Fonts:
    regular, bold = _find("DejaVuSans.ttf"), _find("DejaVuSans-Bold.ttf")
    if regular is None or bold is None:
        return Fonts("Helvetica", "Helvetica-Bold", "Rs.", embedded=False)
    pdfmetrics.registerFont(TTFont("OM-Sans", str(regular)))
    pdfmetrics.registerFont(TTFont("OM-Sans-Bold", str(bold)))
    pdfmetrics.registerFontFamily("OM-Sans", normal="OM-Sans", bold="OM-Sans-Bold")
    return Fonts("OM-Sans", "OM-Sans-Bold", "₹", embedded=True)


def group_indian(whole: int) -> str:
    """1234567 -> "12,34,567" (lakh and crore grouping)."""
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail])


def inr_amount(value: Decimal) -> str:
    """Rupees with Indian grouping and two places, no sign: Decimal("149999.5") -> "1,49,999.50"."""
    q = value.quantize(PAISA, rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    whole, _, paise = f"{abs(q):.2f}".partition(".")
    return f"{sign}{group_indian(int(whole))}.{paise}"


def rupees(value: Decimal) -> str:
    """ "₹1,499.00" (or "Rs. 1,499.00" without DejaVu)."""
    sign = fonts().rupee
    return f"{sign}{inr_amount(value)}" if sign == "₹" else f"{sign} {inr_amount(value)}"


def kg_text(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.2f} kg"


def cm(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Address:
    name: str
    lines: tuple[str, ...]  # street lines, already split as they should print
    city: str
    state: str  # state name as it should print ("Karnataka")
    pincode: str
    phone: str | None = None
    company: str | None = None

    def city_line(self) -> str:
        return f"{self.city}, {self.state}"


# Code128 ----------------------------------------------------------------------------------------------

QUIET_MODULES = 10  # ISO/IEC 15417: at least ten module widths of white each side


def code128(
    value: str,
    *,
    bar_width: float,
    bar_height: float,
    human_readable: bool = False,
    font_size: float = 9,
) -> Code128:
    """A Code128 symbol, quiet zones included in its width. bar_width is one module, in points."""
    if not value or not value.isascii() or not value.isprintable():
        raise ValueError(f"a barcode needs printable ASCII text, not {value!r}")
    quiet = QUIET_MODULES * bar_width
    return Code128(
        value,
        barWidth=bar_width,
        barHeight=bar_height,
        quiet=True,
        lquiet=quiet,
        rquiet=quiet,
        humanReadable=human_readable,
        fontName=fonts().bold,
        fontSize=font_size,
    )


def modules(value: str) -> float:
    """How many modules wide the symbol (without quiet zones) is."""
    return float(code128(value, bar_width=1, bar_height=1).width) - 2 * QUIET_MODULES


def fit_bar_width(value: str, width: float, *, largest: float, smallest: float = 0.72) -> float:
    """The widest module (≤ largest) at which the symbol and its quiet zones fit in width points.

    smallest: 0.72 pt is 0.254 mm, 2 dots of a 203-dpi thermal printer; narrower will not scan.
    """
    fitted = min(largest, width / (modules(value) + 2 * QUIET_MODULES))
    if fitted < smallest:
        raise ValueError(f"barcode {value!r} is too long to print readably in {width:.0f} pt")
    return fitted


# Text -------------------------------------------------------------------------------------------------


def fit(text: str, font: str, size: float, width: float) -> str:
    """The text, shortened with an ellipsis if it is wider than width."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def fit_size(text: str, font: str, size: float, width: float, smallest: float = 6) -> float:
    """The largest font size ≤ size at which text fits in width (not below smallest)."""
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def para_text(text: str) -> str:
    """Plain text made safe for a Paragraph's mini-markup."""
    return escape(text)


# Pages ------------------------------------------------------------------------------------------------


def numbered_canvas(stamp: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A Canvas class that holds its pages until save(), then calls stamp(canvas, page, pages) on each:
    "Page 2 of 5" needs the count, which is known only once the story has been laid out."""

    class _Numbered(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            pages = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                stamp(self, number, pages)
                super().showPage()
            super().save()

    return _Numbered
