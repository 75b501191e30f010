/** Small layout helpers shared by the SVG and terminal back ends: boxes that must not overlap, text escaping. */

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Placed labels: a new one is accepted only where it overlaps none (with `gap` around each). */
export class Occupancy {
  readonly boxes: Box[] = [];
  constructor(private readonly gap = 3) {}

  fits(b: Box): boolean {
    const g = this.gap;
    return this.boxes.every((o) => b.x1 + g <= o.x0 || b.x0 >= o.x1 + g || b.y1 + g <= o.y0 || b.y0 >= o.y1 + g);
  }

  add(b: Box): void {
    this.boxes.push(b);
  }

  /** Adds the first candidate that fits (and lies within `bounds`); returns it, or null. */
  place(candidates: Box[], bounds?: Box): Box | null {
    for (const c of candidates) {
      if (bounds && (c.x0 < bounds.x0 || c.x1 > bounds.x1 || c.y0 < bounds.y0 || c.y1 > bounds.y1)) continue;
      if (this.fits(c)) {
        this.add(c);
        return c;
      }
    }
    return null;
  }
}

/**
 * Text from a recording (command lines, labels) for XML/HTML text and attribute values: the five
 * markup characters escaped, and the control characters XML 1.0 forbids (a command line can hold
 * an ESC) replaced, since one of them makes the whole SVG unreadable.
 */
export function escapeXml(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '\ufffd')
    .replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}
