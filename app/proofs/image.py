"""A proof of service drawn as a PNG image by the server, to save on a phone: printing is buried on
phones and absent inside WeChat. A4 proportions (1240 × 1754, A4 at 150 dpi), taller when the
list of activities needs it; the same words as the printable page and its verification QR code.

Chinese needs a CJK font: a file on this server (setting PROOF_FONT, else the first Debian font
found), never downloaded. Without one there is no image, and the proof page offers none."""

from __future__ import annotations

import io
import logging
from functools import lru_cache
from pathlib import Path

import qrcode
from flask import current_app
from PIL import Image, ImageDraw, ImageFont

from app.formats import fmt_date, fmt_hours, fmt_instant
from app.proofs.models import Certificate

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",   # fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",          # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",            # fonts-wqy-zenhei
)

WIDTH, MIN_HEIGHT, MARGIN, DPI = 1240, 1754, 110, 150   # A4 at 150 dpi
INK, MUTED, RED, RULE, PAPER = (20, 20, 20), (90, 90, 90), (176, 30, 35), (150, 150, 150), (255, 255, 255)
Font = ImageFont.FreeTypeFont


@lru_cache(maxsize=8)
def font_file(configured: str | None) -> str | None:
    """The font file to draw with: PROOF_FONT when set, else the first candidate there is. Whatever
    is missing is logged once per process (the answer is kept)."""
    if configured:
        if Path(configured).is_file():
            return configured
        log.warning("PROOF_FONT %s is not a file: proofs of service are not offered as images", configured)
        return None
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    log.warning("no CJK font found (install fonts-noto-cjk or fonts-wqy-microhei, or set PROOF_FONT): "
                "proofs of service are not offered as images")
    return None


def configured_font() -> str | None:
    return font_file(current_app.config.get("PROOF_FONT"))


@lru_cache(maxsize=32)
def _font(path: str, size: int) -> Font:
    """The font at `size`; in a collection (.ttc) its Simplified Chinese face, whose glyph shapes
    are the ones readers here expect (Noto Sans CJK puts the Japanese face first)."""
    for index in range(10):
        try:
            face = ImageFont.truetype(path, size, index=index)
        except OSError:
            break
        if "SC" in str(face.getname()[0]).split():
            return face
    return ImageFont.truetype(path, size)


def _wrap(text: str, font: Font, width: int) -> list[str]:
    """Lines of at most `width` pixels, broken between any two characters (as Chinese is)."""
    lines, line = [], ""
    for ch in text:
        if line and font.getlength(line + ch) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    return [*lines, line] if line else lines


def _fit(text: str, font: Font, width: int) -> str:
    """`text` cut to `width` pixels with an ellipsis when it is longer."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _qr(link: str, size: int) -> Image.Image:
    """The QR code of `link` at most `size` pixels wide, every module the same whole number of pixels
    (a camera reads those best)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(link)
    code.make(fit=True)
    code.box_size = max(1, size // (code.modules_count + 2 * code.border))
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def render_png(certificate: Certificate, link: str, *, font_path: str) -> bytes:
    """The proof as PNG bytes."""
    out = io.BytesIO()
    # zlib level 3 instead of 6: twice as fast on a drawing like this one, 5-10 % larger
    render(certificate, link, font_path=font_path).save(out, format="PNG", compress_level=3)
    return out.getvalue()


def render_pdf(certificate: Certificate, link: str, *, font_path: str) -> bytes:
    """The proof as a one-page PDF of the same drawing: an A4 page at 150 dpi (a longer page when
    the list of activities is long), so that printing it fills a sheet."""
    out = io.BytesIO()
    # Pillow embeds an RGB image as JPEG: quality 90 keeps the edges of small text and QR modules clean
    render(certificate, link, font_path=font_path).save(out, format="PDF", resolution=DPI, quality=90,
                                                         title=f"志愿服务证明 {certificate.number}")
    return out.getvalue()


def render(certificate: Certificate, link: str, *, font_path: str) -> Image.Image:
    """The proof drawn: title, number, the member, the organization, the period, the total and each
    activity's hours, the issue date, and the QR code of `link` (its verification page)."""
    title, body, small = _font(font_path, 84), _font(font_path, 40), _font(font_path, 32)
    inner = WIDTH - 2 * MARGIN
    lines = certificate.lines
    row = 62
    lead = (f"兹证明 {certificate.member.user.name} 同志，于 {fmt_date(certificate.period_start)} 至 "
            f"{fmt_date(certificate.period_end)} 在{certificate.organization.name}参加志愿服务，经本组织确认，"
            f"累计服务 {fmt_hours(certificate.total_hours)} 小时，明细如下：")
    lead_lines = _wrap("　　" + lead, body, inner)
    qr_size = 360
    # title and number, the lead, the table (header, lines, total), issuer and date, the QR code
    needed = MARGIN + 230 + 64 * len(lead_lines) + 24 + row * (len(lines) + 2) + 60 + 128 + 50 + qr_size + 10 + MARGIN
    height = max(MIN_HEIGHT, needed)
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, WIDTH - 41, height - 41), outline=RED, width=6)
    draw.rectangle((56, 56, WIDTH - 57, height - 57), outline=RED, width=2)

    y = MARGIN + 20
    draw.text((WIDTH // 2, y), "志愿服务证明", font=title, fill=RED, anchor="mt", stroke_width=1, stroke_fill=RED)
    y += 120
    draw.text((WIDTH // 2, y), f"证明编号：{certificate.number}", font=small, fill=MUTED, anchor="mt")
    y += 90

    for text in lead_lines:
        draw.text((MARGIN, y), text, font=body, fill=INK)
        y += 64
    y += 24

    date_x, activity_x, hours_right = MARGIN + 10, MARGIN + 300, WIDTH - MARGIN - 10
    activity_width = hours_right - 200 - activity_x

    def table_row(cells: tuple[str, str, str], font: Font, colour: tuple[int, int, int]) -> None:
        nonlocal y
        draw.text((date_x, y + row // 2), cells[0], font=font, fill=colour, anchor="lm")
        draw.text((activity_x, y + row // 2), _fit(cells[1], font, activity_width), font=font, fill=colour, anchor="lm")
        draw.text((hours_right, y + row // 2), cells[2], font=font, fill=colour, anchor="rm")
        y += row
        draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=RULE, width=1)

    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=INK, width=2)
    table_row(("日期", "服务内容", "时长（小时）"), small, MUTED)
    for line in lines:
        table_row((fmt_date(line.served_on), line.activity, fmt_hours(line.hours)), small, INK)
    table_row(("合计", "", fmt_hours(certificate.total_hours)), body, INK)
    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=INK, width=2)
    y += 60

    draw.text((MARGIN, y), f"出具单位：{certificate.organization.name}", font=body, fill=INK)
    y += 64
    draw.text((MARGIN, y), f"开具日期：{fmt_instant(certificate.issued_at)}", font=body, fill=INK)

    qr_top = height - MARGIN - qr_size - 10
    image.paste(_qr(link, qr_size), (MARGIN, qr_top))
    hint_x = MARGIN + qr_size + 40
    hint_y = qr_top + 40
    for text in _wrap(f"扫描二维码或打开 {link}，可查验本证明的真伪和是否仍然有效。", small, WIDTH - MARGIN - hint_x):
        draw.text((hint_x, hint_y), text, font=small, fill=MUTED)
        hint_y += 48

    return image
