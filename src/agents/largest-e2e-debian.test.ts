/** The issue-15 duplicates test on Debian's python3, with numpy and pandas (largest-e2e-support.test.ts). */
import { test } from 'node:test';
import * as fs from 'node:fs';
import { copiesFound } from './largest-e2e-support.test';

test("--duplicates and --largest find the copies and not the rest (Debian's python3, numpy + pandas)", { skip: fs.existsSync('/usr/bin/python3') ? false : 'no /usr/bin/python3' }, () => copiesFound('/usr/bin/python3'));
