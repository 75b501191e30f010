/**
 * Axis ticks and labels shared by every back end, the HTML page included: the page gets these very
 * functions as source text (`Function.prototype.toString`), so each one is self-contained — no
 * imports, no module-level constants, no calls to anything but the functions listed in
 * TICK_FUNCTIONS — and one implementation decides what an axis says everywhere.
 */

export interface Tick {
  value: number;
  label: string;
}

/**
 * Size ticks in one binary unit chosen by the axis maximum (KiB, MiB or GiB from 1.5 of that unit
 * up), at 1/2/2.5/5 × 10^k of that unit: "0, 256 MiB" would be rounder in binary, but people read
 * "250 MiB, 500 MiB" faster, and every tick still names its unit.
 */
export function byteTicks(maxBytes: number, targetCount: number): { ticks: Tick[]; unit: string; unitBytes: number } {
  const units: Array<[string, number]> = [['B', 1], ['KiB', 1024], ['MiB', 1024 * 1024], ['GiB', 1024 ** 3], ['TiB', 1024 ** 4]];
  let ui = 0;
  for (let i = units.length - 1; i > 0; i--) {
    if (maxBytes >= 1.5 * units[i]![1]) {
      ui = i;
      break;
    }
  }
  if (ui === 0 && maxBytes >= 1024) ui = 1;
  const [unit, unitBytes] = units[ui]!;
  const maxU = Math.max(maxBytes / unitBytes, 1e-9);
  const raw = maxU / Math.max(1, targetCount);
  const exp = Math.floor(Math.log10(raw));
  let step = 0;
  let decimals = 0;
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * Math.pow(10, exp) >= raw * (1 - 1e-9)) {
      const e = m === 10 ? exp + 1 : exp;
      step = (m === 10 ? 1 : m) * Math.pow(10, e);
      decimals = Math.max(0, -e + (m === 2.5 ? 1 : 0));
      break;
    }
  }
  if (ui === 0 && step < 1) {
    step = 1;
    decimals = 0;
  }
  const ticks: Tick[] = [];
  for (let k = 0; k * step <= maxU * (1 + 1e-9) && ticks.length < 100; k++) {
    const v = k * step;
    ticks.push({ value: v * unitBytes, label: v === 0 ? '0' : `${v.toFixed(decimals)} ${unit}` });
  }
  return { ticks, unit, unitBytes };
}

/**
 * Time ticks for an axis from 0 to maxMs, at a round step (ms to days), and the unit the labels
 * are in, for the axis title: "s" (0 10 20), "m:ss" (0:00 0:30), "min" (0 5 10), "h:mm" (0:00
 * 0:30 1:00) or "h" (0 1 2). `fromMs` lets a zoomed view start anywhere.
 */
export function timeTicks(fromMs: number, toMs: number, targetCount: number): { ticks: Tick[]; unit: string } {
  const steps = [
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    1e3, 2e3, 5e3, 10e3, 15e3, 30e3,
    60e3, 120e3, 300e3, 600e3, 900e3, 1800e3,
    3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3,
  ];
  const span = Math.max(toMs - fromMs, 1);
  const raw = span / Math.max(1, targetCount);
  let step = steps[steps.length - 1]!;
  for (const s of steps) {
    if (s >= raw) {
      step = s;
      break;
    }
  }
  // The label style follows the whole axis (its end), so labels of one axis look alike.
  let unit: string;
  if (toMs <= 120e3 && step < 60e3) unit = 's';
  else if (toMs <= 2 * 3600e3) unit = step >= 60e3 && step % 60e3 === 0 ? 'min' : 'm:ss';
  else unit = step >= 3600e3 && step % 3600e3 === 0 ? 'h' : 'h:mm';
  if (unit === 'h:mm' && step < 60e3) unit = 'h:mm:ss';
  const pad = (n: number) => (n < 10 ? '0' : '') + n;
  const label = (t: number): string => {
    if (unit === 's') {
      const dec = step >= 1000 ? 0 : step >= 100 ? 1 : step >= 10 ? 2 : 3;
      return (t / 1000).toFixed(dec);
    }
    if (unit === 'min') return String(Math.round(t / 60e3));
    if (unit === 'h') return String(Math.round(t / 3600e3));
    const totalS = Math.round(t / 1000);
    if (unit === 'm:ss') return `${Math.floor(totalS / 60)}:${pad(totalS % 60)}`;
    const h = Math.floor(totalS / 3600);
    const m = Math.floor((totalS % 3600) / 60);
    return unit === 'h:mm' ? `${h}:${pad(m)}` : `${h}:${pad(m)}:${pad(totalS % 60)}`;
  };
  const ticks: Tick[] = [];
  const first = Math.ceil(fromMs / step - 1e-9) * step;
  for (let t = first; t <= toMs + step * 1e-9 && ticks.length < 200; t += step) ticks.push({ value: t, label: label(t) });
  return { ticks, unit };
}

/** "512 MiB", "1.50 GiB": binary units, three significant digits (as units.formatBytes). */
export function fmtBytes(bytes: number): string {
  if (!(bytes === bytes) || bytes === Infinity) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const sign = bytes < 0 ? '-' : '';
  if (i === 0) return `${sign}${Math.round(v)} B`;
  return `${sign}${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** A position on a run's clock: "4.10 s", "3:05", "1:02:03" (seconds to two decimals under a minute). */
export function fmtClock(ms: number): string {
  if (!(ms === ms)) return '?';
  if (ms < 60e3) return `${(ms / 1000).toFixed(ms < 10e3 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  const pad = (n: number) => (n < 10 ? '0' : '') + n;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The functions above, for the HTML page (names are kept: they call each other by name). */
export const TICK_FUNCTIONS: Array<(...args: never[]) => unknown> = [byteTicks, timeTicks, fmtBytes, fmtClock];
