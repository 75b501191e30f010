/**
 * The byte-level decimal parser shared by the fast paths of the `.mh` reader (src/recording/reader.ts)
 * and the mprof `.dat` reader (src/formats/mprof-dat.ts): both read millions of plain numbers
 * ("41.750000", "1234") straight from the decompressed bytes without making strings.
 */

/** 10^k for k = 0…15: exact doubles. */
export const POW10: readonly number[] = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** Where the last readDecimal() stopped, when it returned a number (one shared object: nothing allocated per number). */
export const decimalEnd = { at: 0 };

/**
 * A plain non-negative decimal at buf[i] ("41.750000", "7"): at least one digit, an optional
 * fraction with at least one digit, at most 15 digits in all, not followed by an exponent. The
 * mantissa and the power of ten are exact doubles, so the division rounds as Number() does. Sets
 * decimalEnd.at to the byte after it. NaN for anything else (a sign, an exponent, "5.", no digit,
 * too many digits): the callers then take their slow path, which parses the text and reports it.
 */
export function readDecimal(buf: Uint8Array, i: number): number {
  let mant = 0;
  let digits = 0;
  let frac = 0;
  let c = buf[i]!;
  while (c >= 0x30 && c <= 0x39) {
    mant = mant * 10 + (c - 0x30);
    digits++;
    c = buf[++i]!;
  }
  if (digits === 0) return NaN;
  if (c === 0x2e) {
    c = buf[++i]!;
    while (c >= 0x30 && c <= 0x39) {
      mant = mant * 10 + (c - 0x30);
      digits++;
      frac++;
      c = buf[++i]!;
    }
    if (frac === 0) return NaN;
  }
  if (digits > 15 || c === 0x65 || c === 0x45) return NaN;
  decimalEnd.at = i;
  return frac ? mant / POW10[frac]! : mant;
}
