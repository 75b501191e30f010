/**
 * Sizes and durations: parsed in one place, printed in one place (CONVENTIONS 14).
 *
 * Size units follow the tools our users already type limits into:
 * - binary: B, K/KiB/Ki, M/MiB/Mi, G/GiB/Gi, T/TiB/Ti (Docker's `-m 2g` and mprof are binary);
 * - decimal: KB, MB, GB, TB (SI, as Kubernetes' `2G` is 2e9 bytes).
 * A bare number is refused: "100" could be bytes (Docker) or MiB (mprof's --pdb-mmem).
 */

import { InputError } from './errors';

/** A malformed or out-of-range size, duration, rate or percentage (exit 2, as every InputError). */
export class UnitError extends InputError {
  override name = 'UnitError';
}

/**
 * The largest size accepted: 2^53 bytes (8 PiB), the largest whole number a double holds exactly;
 * no memory limit comes near it.
 */
const MAX_SIZE_BYTES = Number.MAX_SAFE_INTEGER;

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024, ki: 1024, kib: 1024, kb: 1e3,
  m: 1024 ** 2, mi: 1024 ** 2, mib: 1024 ** 2, mb: 1e6,
  g: 1024 ** 3, gi: 1024 ** 3, gib: 1024 ** 3, gb: 1e9,
  t: 1024 ** 4, ti: 1024 ** 4, tib: 1024 ** 4, tb: 1e12,
};

/** Parses "512MiB", "2G", "1.5GB", "300 KiB" into bytes. Throws UnitError with an example on bad input. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) {
    throw new UnitError(`${what} "${text}" is not a size; write a positive number with a unit, e.g. 512MiB, 2GiB, 1.5GB`);
  }
  const value = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (!(value > 0)) throw new UnitError(`${what} "${text}" must be greater than zero`);
  if (unit === '') {
    throw new UnitError(`${what} "${text}" needs a unit, e.g. ${text}MiB or ${text}GiB (bare numbers are ambiguous)`);
  }
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) {
    throw new UnitError(`${what} "${text}" has an unknown unit "${m[2]}"; use B, KiB, MiB, GiB, TiB (binary) or KB, MB, GB, TB (decimal)`);
  }
  const bytes = value * factor;
  if (!(bytes > 0) || !Number.isFinite(bytes)) {
    throw new UnitError(`${what} "${text}" must be greater than zero`);
  }
  // Memory comes in whole bytes: "0.1B" would be a limit no process stays under ("peak used
  // Infinity%"), "1.5B" means nothing. Fractions of larger units round to the nearest byte.
  if (bytes < 1) throw new UnitError(`${what} "${text}" is less than one byte; sizes are at least 1B`);
  if (factor === 1 && !Number.isInteger(value)) throw new UnitError(`${what} "${text}" is not a whole number of bytes`);
  if (bytes > MAX_SIZE_BYTES) throw new UnitError(`${what} "${text}" is too large (at most 8PiB)`);
  return Math.round(bytes);
}

const DURATION_UNITS: Record<string, number> = {
  us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000,
};

/**
 * Parses "10ms", "0.5s", "2m", "1h" into milliseconds. A bare number is seconds, as in mprof's
 * `--interval 0.1`. Zero and negative durations are refused.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*([a-zA-Zµ]*)\s*$/.exec(text);
  if (!m) {
    throw new UnitError(`${what} "${text}" is not a duration; write a number with a unit, e.g. 10ms, 0.5s, 2m`);
  }
  const value = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const factor = unit === '' ? 1000 : DURATION_UNITS[unit];
  if (factor === undefined) {
    throw new UnitError(`${what} "${text}" has an unknown unit "${m[2]}"; use us, ms, s, m or h`);
  }
  const ms = value * factor;
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new UnitError(`${what} "${text}" must be greater than zero`);
  }
  return ms;
}

/** "512 MiB", "1.50 GiB", "12.3 KiB", "0 B": binary units, three significant digits. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const sign = bytes < 0 ? '-' : '';
  let v = Math.abs(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${sign}${Math.round(v)} B`;
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${sign}${v.toFixed(digits)} ${units[i]}`;
}

/**
 * A whole number with thousands separators, "1,000,000" (as toLocaleString('en-US') prints it,
 * without its first call's ICU set-up: 7 ms of a 0.4 s `memhunt plot`).
 */
export function formatCount(n: number): string {
  const r = Math.round(n);
  if (!Number.isFinite(r)) return String(r);
  const digits = String(Math.abs(r));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return r < 0 ? `-${out}` : out;
}

/** "850 ms", "12.3 s", "3m05s", "2h04m": compact elapsed time. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) {
    const m = Math.floor(totalS / 60);
    return `${m}m${String(totalS % 60).padStart(2, '0')}s`;
  }
  const totalM = Math.round(ms / 60_000);
  return `${Math.floor(totalM / 60)}h${String(totalM % 60).padStart(2, '0')}m`;
}

/** "00:41.2" / "1:02:03": a position on a run's clock, for summaries. */
export function formatClock(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const secText = sec.toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${secText}` : `${String(m).padStart(2, '0')}:${secText}`;
}

const RATE_TIME_UNITS: Record<string, number> = {
  s: 1 / 60, sec: 1 / 60, second: 1 / 60,
  m: 1, min: 1, minute: 1,
  h: 60, hr: 60, hour: 60,
  d: 1440, day: 1440,
};

/**
 * Parses a growth rate "5MiB/min", "1GiB/h", "300KiB/s", "2 GB/day" into **bytes per minute**
 * (the unit verdicts print). The size part follows parseSize; the time part is s, min (or m), h
 * or day. Zero and negative rates are refused: a limit of zero growth is `--no-leak`.
 */
export function parseRate(text: string, what = 'rate'): number {
  const m = /^\s*([^/]+?)\s*\/\s*([a-zA-Z]+)\s*$/.exec(text);
  if (!m) {
    throw new UnitError(`${what} "${text}" is not a rate; write a size per time, e.g. 5MiB/min, 1GiB/h, 300KiB/s`);
  }
  const per = RATE_TIME_UNITS[m[2]!.toLowerCase()];
  if (per === undefined) {
    throw new UnitError(`${what} "${text}" has an unknown time unit "${m[2]}"; use s, min, h or day (e.g. 5MiB/min)`);
  }
  let bytes: number;
  try {
    bytes = parseSize(m[1]!, what);
  } catch (e) {
    throw new UnitError(`${what} "${text}": ${(e as Error).message.replace(/^.*?" /, 'the size ')}`);
  }
  return bytes / per;
}

/** Parses "80%" into 0.8. The percent sign is required ("0.8" could mean 0.8% or 80%); 0% and over 100% are refused. */
export function parsePercent(text: string, what = 'percentage'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%\s*$/.exec(text);
  if (!m) {
    throw new UnitError(`${what} "${text}" is not a percentage; write a number followed by %, e.g. 80%`);
  }
  const value = Number(m[1]);
  if (!(value > 0) || value > 100) {
    throw new UnitError(`${what} "${text}" must be more than 0% and at most 100%`);
  }
  return value / 100;
}

/** "+12.3 MiB/min", "-512 KiB/min", "0 B/min": a rate given in bytes per minute; signed adds "+" to positive rates. */
/**
 * A share as a percentage, the same everywhere a user reads one (summary, chart, fleet, check):
 * whole percents, one decimal under 10%, and one decimal where rounding would make a share over
 * its limit read 100% or one under it read 100% (100.3%, 99.7%). The fleet table rounded up over
 * 100% while the summary rounded: 103% and 102% for the same 1.0207.
 */
export function formatPercent(share: number): string {
  const p = 100 * share;
  if (!Number.isFinite(p)) return '-';
  if (Math.abs(p) < 10) return `${p.toFixed(1)}%`;
  const whole = Math.round(p);
  if (whole === 100 && p !== 100) return `${p.toFixed(1)}%`;
  return `${whole}%`;
}

export function formatRate(bytesPerMinute: number, signed = false): string {
  if (!Number.isFinite(bytesPerMinute)) return '?';
  const text = `${formatBytes(bytesPerMinute)}/min`;
  return signed && bytesPerMinute > 0 ? `+${text}` : text;
}

/**
 * MiB with 3 decimals exactly as mprof prints them ("{:.3f}"): Python rounds an exact tie to the
 * even digit (65.5625 -> "65.562") where toFixed rounds it up ("65.563"). A tie at the third
 * decimal is a multiple of 1/16 MiB, exact in a double, and so is its product by 1000.
 */
export function mprofMib(bytes: number): string {
  const mib = bytes / 2 ** 20;
  const scaled = mib * 1000;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5) return ((floor % 2 === 0 ? floor : floor + 1) / 1000).toFixed(3);
  return mib.toFixed(3);
}
