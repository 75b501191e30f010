/** The issue-15 duplicates test on the oldest and newest pyenv Pythons (no numpy there: bytes, bytearray, lists; largest-e2e-support.test.ts). */
import { test } from 'node:test';
import { copiesFound, PYTHONS } from './largest-e2e-support.test';

for (const [name, python] of PYTHONS.filter(([n]) => !n.startsWith('Debian'))) {
  test(`--duplicates and --largest find the copies and not the rest (${name})`, () => copiesFound(python));
}
