#!/usr/bin/env python3
"""Turn a `tmux capture-pane -e -p` dump (text with SGR colour codes) into an SVG of the screen,
cell for cell, so rsvg-convert can make a PNG without a browser."""
import html
import re
import sys

BASE = ["#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
        "#666666", "#ff7b7b", "#d2e08a", "#ffe08a", "#a3c4e0", "#d4b0e0", "#a8e0da", "#ffffff"]
FG, BG = "#d0d0d0", "#101214"
CW, CH, FONT = 8.4, 17, 14


def color256(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def parse(text, cols, rows):
    grid = [[(" ", None, None, False, False)] * cols for _ in range(rows)]
    fg = bg = None
    bold = rev = False
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        for tok in re.split(r"(\x1b\[[0-9;:]*m)", line):
            m = re.fullmatch(r"\x1b\[([0-9;:]*)m", tok)
            if m:
                ps = [int(p) if p else 0 for p in re.split("[;:]", m.group(1))] or [0]
                i = 0
                while i < len(ps):
                    p = ps[i]
                    if p == 0:
                        fg = bg = None
                        bold = rev = False
                    elif p == 1:
                        bold = True
                    elif p == 22:
                        bold = False
                    elif p == 7:
                        rev = True
                    elif p == 27:
                        rev = False
                    elif 30 <= p <= 37:
                        fg = BASE[p - 30]
                    elif 90 <= p <= 97:
                        fg = BASE[p - 90 + 8]
                    elif 40 <= p <= 47:
                        bg = BASE[p - 40]
                    elif 100 <= p <= 107:
                        bg = BASE[p - 100 + 8]
                    elif p == 39:
                        fg = None
                    elif p == 49:
                        bg = None
                    elif p in (38, 48) and i + 1 < len(ps):
                        if ps[i + 1] == 5 and i + 2 < len(ps):
                            c = color256(ps[i + 2])
                            i += 2
                        elif ps[i + 1] == 2 and i + 4 < len(ps):
                            c = "#%02x%02x%02x" % tuple(ps[i + 2:i + 5])
                            i += 4
                        else:
                            c = None
                        if p == 38:
                            fg = c
                        else:
                            bg = c
                    i += 1
                continue
            for ch in tok:
                if x < cols:
                    grid[y][x] = (ch, fg, bg, bold, rev)
                x += 1
    return grid


def svg(grid, cols, rows):
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">'
           % (cols * CW + 16, rows * CH + 16),
           '<rect width="100%%" height="100%%" fill="%s"/>' % BG,
           '<g transform="translate(8,8)" font-family="DejaVu Sans Mono, monospace" '
           'font-size="%d">' % FONT]
    for y, row in enumerate(grid):
        cells = []
        for ch, fg, bg, bold, rev in row:
            f, b = fg or FG, bg
            if rev:
                f, b = (bg or BG), (fg or FG)
            cells.append((ch, f, b, bold))
        x = 0
        while x < cols:
            b = cells[x][2]
            end = x
            while end < cols and cells[end][2] == b:
                end += 1
            if b:
                out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>'
                           % (x * CW, y * CH, (end - x) * CW, CH, b))
            x = end
        x = 0
        while x < cols:
            f, bold = cells[x][1], cells[x][3]
            end = x
            while end < cols and (cells[end][1], cells[end][3]) == (f, bold):
                end += 1
            run = "".join(c[0] for c in cells[x:end])
            if run.strip():
                # One x per character: the renderer's own glyph advance (and any fallback
                # font's) can then never push text past the cell grid.
                xs = " ".join("%.1f" % ((x + i) * CW) for i in range(end - x))
                out.append('<text x="%s" y="%d" fill="%s"%s xml:space="preserve">%s</text>'
                           % (xs, y * CH + 13, f, ' font-weight="bold"' if bold else "",
                              html.escape(run)))
            x = end
    out.append("</g></svg>")
    return "\n".join(out)


if __name__ == "__main__":
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    text = sys.stdin.read()
    sys.stdout.write(svg(parse(text, cols, rows), cols, rows))
