#!/usr/bin/python3
"""Makes assets/fonts/memhunt-sans{,-bold}.ttf: DejaVu Sans (regular and bold) cut down to the
characters charts need, renamed "memhunt Sans" as the Bitstream Vera licence asks of modified fonts.

Why: resvg parses the font for every text element it lays out; with the full DejaVu Sans (750 KB,
6,000 glyphs, large kerning tables) the 60-odd labels of a chart cost ~35 ms, with this cut ~9 ms.
PNG rendering lists the full fonts after these, so a character outside the cut (a command line in
Arabic, say) still comes from DejaVu Sans.

Run once after changing the character ranges, and commit the result:
    apt-get install fonttools        # Debian's fontTools; not needed at run time
    /usr/bin/python3 scripts/subset-fonts.py   # Debian's python3, where fontTools is
"""
import os
import sys

from fontTools import subset
from fontTools.ttLib import TTFont

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SOURCE = os.path.join(ROOT, "node_modules", "dejavu-fonts-ttf", "ttf")
OUT = os.path.join(ROOT, "assets", "fonts")
FAMILY = "memhunt Sans"

# Latin (with Latin-1 and Extended-A/B), Greek, Cyrillic, Armenian, Hebrew, Georgian, punctuation,
# currency, letter-like symbols, arrows, mathematical operators, box drawing, blocks and geometric
# shapes (▾ ● ■). Arabic and the rest of DejaVu's scripts come from the full font (in regular weight:
# resvg's fallback does not match the weight).
RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x052F), (0x0530, 0x05FF), (0x10A0, 0x10FF),
    (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2190, 0x21FF),
    (0x2200, 0x22FF), (0x2500, 0x25FF),
]


def cut(src: str, dst: str, style: str) -> None:
    font = TTFont(src)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = False  # a character missing everywhere draws nothing, as before
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for a, b in RANGES for c in range(a, b + 1)])
    subsetter.subset(font)
    names = font["name"]
    full = FAMILY if style == "Regular" else f"{FAMILY} {style}"
    postscript = full.replace(" ", "") if style == "Regular" else f"{FAMILY.replace(' ', '')}-{style}"
    for record in names.names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID in (2, 17):
            record.string = style
        elif record.nameID == 3:
            record.string = f"{full} (DejaVu Sans subset)"
        elif record.nameID == 4:
            record.string = full
        elif record.nameID == 6:
            record.string = postscript
    font.save(dst)


def main() -> int:
    if not os.path.isdir(SOURCE):
        print(f"subset-fonts: {SOURCE} is missing: run npm ci first", file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    cut(os.path.join(SOURCE, "DejaVuSans.ttf"), os.path.join(OUT, "memhunt-sans.ttf"), "Regular")
    cut(os.path.join(SOURCE, "DejaVuSans-Bold.ttf"), os.path.join(OUT, "memhunt-sans-bold.ttf"), "Bold")
    with open(os.path.join(SOURCE, "..", "LICENSE"), encoding="utf-8") as f:
        licence = f.read()
    with open(os.path.join(OUT, "LICENSE"), "w", encoding="utf-8") as f:
        f.write(
            "memhunt-sans.ttf and memhunt-sans-bold.ttf are DejaVu Sans and DejaVu Sans Bold 2.37\n"
            "(from the dejavu-fonts-ttf npm package), cut to fewer characters and renamed\n"
            "\"memhunt Sans\" by scripts/subset-fonts.py. DejaVu's licence follows.\n\n" + licence
        )
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.join('assets', 'fonts', name)}: {os.path.getsize(os.path.join(OUT, name)):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
