"""Reading our PDFs back the way a person and a scanner would: pypdf extracts the text, pypdfium2
renders a page to pixels, Debian's zbarimg (package zbar-tools) decodes the barcodes in those pixels.

No skips: without zbarimg the barcode tests fail and say what to install.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from io import BytesIO
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

ZBAR_PACKAGE = "zbar-tools"
DPI = 200  # a phone camera or handheld scanner sees no more than this


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages]


def tokens(text: str) -> list[str]:
    """The extracted text one cell or line a token, stripped, empty ones dropped."""
    return [t.strip() for t in text.splitlines() if t.strip()]


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in PdfReader(BytesIO(pdf)).pages]


def zbarimg() -> str:
    path = shutil.which("zbarimg")
    if path is None:
        pytest.fail(
            f"zbarimg not found: the document tests decode barcodes with Debian's {ZBAR_PACKAGE} "
            f"(`make test` installs it; by hand: apt-get install -y {ZBAR_PACKAGE})",
            pytrace=False,
        )
    return path


def decode_pages(pdf: bytes, *, dpi: int = DPI) -> list[list[str]]:
    """Every page rendered at dpi in greyscale, and the Code128 values zbar reads off each."""
    exe = zbarimg()
    document = pdfium.PdfDocument(pdf)
    try:
        with tempfile.TemporaryDirectory(prefix="om-docs-") as folder:
            files = []
            for index in range(len(document)):
                page = document[index]
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
                file = Path(folder) / f"page-{index + 1}.png"
                image.save(file)
                files.append(file)
                page.close()
            return [_zbar(exe, file) for file in files]
    finally:
        document.close()


def _zbar(exe: str, image: Path) -> list[str]:
    done = subprocess.run(
        [exe, "--quiet", "--raw", "-Sdisable", "-Scode128.enable", str(image)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode == 4:  # zbarimg: ran fine, found no barcode
        return []
    if done.returncode != 0:
        raise AssertionError(f"zbarimg failed ({done.returncode}): {done.stderr.strip()}")
    return [line for line in done.stdout.splitlines() if line]
