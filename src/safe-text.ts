/**
 * Text from outside memhunt (command lines, type names from an agent, marker labels, file names)
 * made harmless for a terminal, in one place: every command's terminal output goes through it
 * (src/cli/output.ts writes with it; src/render/term.ts draws with it).
 *
 * A command line holding `ESC ] 0 ; PWNED BEL` would retitle the terminal, `ESC [ 31 m` recolour
 * it, and an OSC sequence cut open by a "…" would swallow the output after it. Replaced, by U+FFFD:
 * C0 controls (tab and newline kept only where the caller asks), DEL, C1 controls (U+0080-U+009F:
 * 8-bit CSI/OSC that some terminals obey in UTF-8), and the bidirectional overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069) that make text display in another order than it reads.
 * Since no escape sequence survives, cutting afterwards can never leave one open.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- the same, newline and tab allowed
const UNSAFE_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export const REPLACEMENT = '\ufffd';

/** One line of text: every control character, newlines included, becomes U+FFFD. */
export function safeLine(text: string): string {
  return text.replace(UNSAFE_LINE, REPLACEMENT);
}

/** Multi-line text: as safeLine, but newline and tab stay. */
export function safeText(text: string): string {
  return text.replace(UNSAFE_TEXT, REPLACEMENT);
}

/** safeLine, cut to at most max characters (code points), the last one "…" when cut. */
export function clipLine(text: string, max: number): string {
  const chars = [...safeLine(text)];
  if (max <= 0) return '';
  return chars.length <= max ? chars.join('') : chars.slice(0, max - 1).join('') + '…';
}

/**
 * JSON for a terminal or a pipe: JSON.stringify already escapes C0 controls; C1 controls, the
 * bidi controls and U+2028/U+2029 are escaped too (\u009b), which JSON readers read back as the
 * same string.
 */
export function safeJson(value: unknown, replacer?: (key: string, value: unknown) => unknown, indent: number | undefined = 2): string {
  return JSON.stringify(value, replacer, indent).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
