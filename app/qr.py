"""QR codes drawn on the server as inline SVG (the qrcode library, nothing loaded from outside):
the check-in code on an organizer's screen, the verification link on a proof of service."""

from __future__ import annotations

from functools import lru_cache

import qrcode
import qrcode.image.svg
from markupsafe import Markup


@lru_cache(maxsize=512)
def qr_svg(text: str, *, label: str) -> Markup:
    """An <svg> of `text` as a QR code, scaled by CSS (class "qr"), with `label` for screen readers.

    Drawing one takes tens of milliseconds; a check-in screen asks for the same code every few
    seconds for its 30-second window, so the last few hundred drawn are kept (per process)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(text)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    svg = svg[svg.index("<svg"):]   # drop the XML declaration: this goes inside HTML
    svg = svg.replace("<svg ", f'<svg class="qr" role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(svg)
