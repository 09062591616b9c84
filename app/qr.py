"""QR codes drawn on the server as inline SVG (the qrcode library, nothing loaded from outside):
the check-in code on an organizer's screen, the verification link on a proof of service."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from markupsafe import Markup


def qr_svg(text: str, *, label: str) -> Markup:
    """An <svg> of `text` as a QR code, scaled by CSS (class "qr"), with `label` for screen readers."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                         image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(text)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    svg = svg[svg.index("<svg"):]   # drop the XML declaration: this goes inside HTML
    svg = svg.replace("<svg ", f'<svg class="qr" role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(svg)
