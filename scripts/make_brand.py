"""Draw MeterLink's brand images into custom_components/meterlink/brand/.

Since Home Assistant 2026.3 a custom integration ships its own icon and logo there, and HACS
requires at least brand/icon.png. The images are generated rather than hand-edited so they stay
reproducible and can be redrawn at any size: run ``scripts/make_brand.py`` through ``ml_run``
after changing the design and commit the PNGs. Only Pillow is needed (it comes with Home
Assistant); the wordmark uses the font bundled with Pillow so the output is the same on every
machine.

Each shape is drawn at four times the target size and scaled down, which is the simplest way to
get smooth anti-aliased edges out of ImageDraw.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND_DIR = Path(__file__).resolve().parent.parent / "custom_components" / "meterlink" / "brand"
SUPERSAMPLE = 4

BLUE_LIGHT = (33, 150, 243, 255)
BLUE_DARK = (13, 71, 161, 255)
NAVY = (16, 42, 84, 255)
WHITE = (255, 255, 255, 255)
DIAL_RING = (187, 222, 251, 255)
AMBER = (255, 193, 7, 255)
AMBER_EDGE = (230, 120, 0, 255)
TEXT_LIGHT_BG = (16, 42, 84, 255)  # "Meter" on light themes
TEXT_DARK_BG = (236, 242, 250, 255)  # "Meter" on dark themes
ACCENT_LIGHT_BG = (25, 118, 210, 255)  # "Link" on light themes
ACCENT_DARK_BG = (100, 181, 246, 255)  # "Link" on dark themes


def _vertical_gradient(size: int, top: tuple[int, ...], bottom: tuple[int, ...]) -> Image.Image:
    column = Image.new("RGBA", (1, size))
    for y in range(size):
        t = y / max(size - 1, 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        )
    return column.resize((size, size))


def draw_icon(size: int) -> Image.Image:
    """Rounded-square tile with a meter dial, its scale and a lightning bolt."""
    s = size * SUPERSAMPLE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))

    # Tile: blue gradient clipped to a rounded square; the rest stays transparent.
    mask = Image.new("L", (s, s), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, s - 1, s - 1), radius=round(0.22 * s), fill=255)
    img.paste(_vertical_gradient(s, BLUE_LIGHT, BLUE_DARK), (0, 0), mask)

    draw = ImageDraw.Draw(img)
    cx, cy, r = 0.5 * s, 0.52 * s, 0.38 * s

    # Dial face with a light ring.
    ring = 0.035 * s
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=DIAL_RING)
    draw.ellipse((cx - r + ring, cy - r + ring, cx + r - ring, cy + r - ring), fill=WHITE)

    # Scale: ticks over the upper 240 degrees, every other one longer.
    ticks = 13
    for i in range(ticks):
        angle = math.radians(210 - 240 * i / (ticks - 1))
        outer = r - ring - 0.025 * s
        inner = outer - (0.075 * s if i % 3 == 0 else 0.04 * s)
        width = round((0.022 if i % 3 == 0 else 0.014) * s)
        draw.line(
            (
                cx + inner * math.cos(angle),
                cy - inner * math.sin(angle),
                cx + outer * math.cos(angle),
                cy - outer * math.sin(angle),
            ),
            fill=NAVY,
            width=width,
        )

    # Lightning bolt, outlined so it reads on the white face.
    bolt = [
        (0.10, -0.62),
        (-0.30, 0.08),
        (-0.02, 0.08),
        (-0.14, 0.62),
        (0.30, -0.12),
        (0.02, -0.12),
    ]
    scale = 0.85 * r
    points = [(cx + x * scale, cy + 0.03 * s + y * scale) for x, y in bolt]
    draw.polygon(points, fill=AMBER)
    draw.line(
        [*points, points[0], points[1]], fill=AMBER_EDGE, width=round(0.014 * s), joint="curve"
    )

    return img.resize((size, size), Image.Resampling.LANCZOS)


def draw_logo(height: int, *, dark: bool) -> Image.Image:
    """The icon followed by the word "MeterLink", trimmed to a 4:1 landscape image."""
    width = 4 * height
    s_w, s_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    img = Image.new("RGBA", (s_w, s_h), (0, 0, 0, 0))
    icon = draw_icon(s_h)
    img.paste(icon, (0, 0), icon)

    draw = ImageDraw.Draw(img)
    left = s_h + round(0.14 * s_h)
    available = s_w - left - round(0.02 * s_h)
    first, second = "Meter", "Link"
    stroke = round(0.012 * s_h)  # the bundled font has no bold face: thicken it with a stroke

    size = round(0.62 * s_h)
    font = ImageFont.load_default(size=size)
    while font.getlength(first + second) + 2 * stroke > available and size > 8:
        size -= 2
        font = ImageFont.load_default(size=size)

    # Centre on the cap height rather than the full box so descender-free text looks centred.
    cap_height = -font.getbbox("M", anchor="ls")[1]
    baseline = (s_h + cap_height) / 2
    colour_first = TEXT_DARK_BG if dark else TEXT_LIGHT_BG
    colour_second = ACCENT_DARK_BG if dark else ACCENT_LIGHT_BG
    x: float = left
    for text, colour in ((first, colour_first), (second, colour_second)):
        draw.text(
            (x, baseline),
            text,
            font=font,
            fill=colour,
            anchor="ls",
            stroke_width=stroke,
            stroke_fill=colour,
        )
        x += font.getlength(text)

    return img.resize((width, height), Image.Resampling.LANCZOS)


def main() -> int:
    """Write every brand image; returns the process exit status."""
    BRAND_DIR.mkdir(parents=True, exist_ok=True)
    images = {
        "icon.png": draw_icon(256),
        "icon@2x.png": draw_icon(512),
        "logo.png": draw_logo(128, dark=False),
        "logo@2x.png": draw_logo(256, dark=False),
        "dark_logo.png": draw_logo(128, dark=True),
        "dark_logo@2x.png": draw_logo(256, dark=True),
    }
    for name, image in images.items():
        path = BRAND_DIR / name
        image.save(path, optimize=True)
        print(f"{path.relative_to(BRAND_DIR.parents[2])}: {image.width}x{image.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
