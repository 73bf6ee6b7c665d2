"""Draws docs/fleet-layout.svg, the picture of README's "Running many boxes".

    python docs/fleet_layout.py

Plain SVG written by hand (no dependency): boxes of a fleet, the one MQTT broker and webhook
receiver they publish to, the one Redis whose budget they share, the Face Analyzer account
they call, and Prometheus scraping each box.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).with_name("fleet-layout.svg")
WIDTH, HEIGHT = 760, 410
INK, MUTED, EDGE = "#1f2933", "#52606d", "#9aa5b1"
BOX_FILL, SHARED_FILL, OUTSIDE_FILL = "#e6f0fa", "#fdf3d8", "#eef7ee"


def rect(x: int, y: int, w: int, h: int, fill: str, title: str, lines: list[str]) -> str:
    parts = [
        f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{EDGE}"/>',
        f'<text x="{x + w / 2}" y="{y + 20}" text-anchor="middle" font-weight="bold" '
        f'fill="{INK}">{title}</text>',
    ]
    for n, line in enumerate(lines):
        parts.append(
            f'<text x="{x + w / 2}" y="{y + 38 + 15 * n}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{line}</text>'
        )
    return "\n".join(parts)


def arrow(x1: float, y1: float, x2: float, y2: float, label: str = "", dash: bool = False) -> str:
    style = ' stroke-dasharray="5 4"' if dash else ""
    line = (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{MUTED}" stroke-width="1.4"'
        f'{style} marker-end="url(#head)"/>'
    )
    if not label:
        return line
    return line + (
        f'\n<text x="{(x1 + x2) / 2 + 4}" y="{(y1 + y2) / 2 - 4}" font-size="10" '
        f'fill="{MUTED}">{label}</text>'
    )


def path(points: list[tuple[float, float]], *, dash: bool = False, head: bool = False) -> str:
    style = ' stroke-dasharray="5 4"' if dash else ""
    marker = ' marker-end="url(#head)"' if head else ""
    d = " ".join(f"{'M' if n == 0 else 'L'}{x},{y}" for n, (x, y) in enumerate(points))
    return f'<path d="{d}" fill="none" stroke="{MUTED}" stroke-width="1.4"{style}{marker}/>'


def main() -> None:
    shapes = [
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        f'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="{MUTED}"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        rect(
            270,
            16,
            220,
            62,
            OUTSIDE_FILL,
            "Face Analyzer account",
            ["~2 calls/s, one pool of credits"],
        ),
        rect(
            20,
            120,
            160,
            62,
            SHARED_FILL,
            "Redis",
            ['budget.account = "site"', "rate + day, one script"],
        ),
        rect(
            580,
            120,
            160,
            62,
            OUTSIDE_FILL,
            "Prometheus",
            ["scrapes each box's", "/metrics, /healthz"],
        ),
    ]
    box_xs = [210, 330, 450]
    for n, x in enumerate(box_xs, start=1):
        shapes.append(
            rect(
                x,
                150,
                110,
                80,
                BOX_FILL,
                f"box {n}",
                [f'node = "door{n}"', "cameras", "streamwatch"],
            )
        )
        shapes.append(arrow(x + 55, 150, 380 + (n - 2) * 40, 80))  # calls to the API
        shapes.append(path([(x + 15, 230), (x + 15, 252)], dash=True))  # to the budget's bus
        shapes.append(path([(x + 95, 264), (x + 95, 232)], dash=True, head=True))  # scrapes
    # The budget's bus: every box to Redis; the scrapes' bus: Prometheus to every box.
    shapes.append(path([(box_xs[-1] + 15, 252), (100, 252), (100, 184)], dash=True, head=True))
    shapes.append(path([(660, 182), (660, 264), (box_xs[0] + 95, 264)], dash=True))
    shapes += [
        rect(
            170,
            300,
            190,
            62,
            OUTSIDE_FILL,
            "MQTT broker",
            ["streamwatch/&lt;node&gt;/&lt;camera&gt;/…", "Home Assistant discovery"],
        ),
        rect(
            400,
            300,
            190,
            62,
            OUTSIDE_FILL,
            "webhook receiver",
            ["one event id per event,", "source names the node"],
        ),
    ]
    for x in box_xs:
        shapes.append(arrow(x + 40, 230, 265, 310))
        shapes.append(arrow(x + 70, 230, 495, 310))
    shapes.append(
        f'<text x="20" y="{HEIGHT - 8}" font-size="10" fill="{MUTED}">dashed: the shared budget '
        "(one round trip per admission) and the scrapes; solid: calls and events</text>"
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="13">\n'
        + "\n".join(shapes)
        + "\n</svg>\n"
    )
    OUT.write_text(svg)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
