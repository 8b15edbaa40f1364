"""Shipping documents as PDF: the 4×6 label, the GST tax invoice and the carrier's pickup manifest.

Inputs are plain dataclasses defined here; nothing in this package reads the database. See
docs/documents.md.
"""

from ordermesh.adapters.documents._shared import Address, fonts, inr_amount, kg_text, rupees
from ordermesh.adapters.documents.invoice import InvoiceData, InvoiceLine, Party, render_invoice
from ordermesh.adapters.documents.label import LabelData, render_label
from ordermesh.adapters.documents.manifest import ManifestData, ManifestRow, render_manifest

__all__ = [
    "Address",
    "InvoiceData",
    "InvoiceLine",
    "LabelData",
    "ManifestData",
    "ManifestRow",
    "Party",
    "fonts",
    "inr_amount",
    "kg_text",
    "render_invoice",
    "render_label",
    "render_manifest",
    "rupees",
]
