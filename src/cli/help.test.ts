/**
 * `--help` of every command, rendered as commander renders it at 60 and 120 columns (issue 12:
 * paragraphs with hard line breaks came out as a full line, a stray word and the rest).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { joinParagraphs, wrapHelpText } from './help';
import { buildProgram } from './main';

/** The whole `memhunt <cmd> --help` output (description, options, the text after) at width columns. */
function renderHelp(program: Command, cmd: Command, width: number): string {
  let text = '';
  // Subcommands share the program's output configuration (commander copies the object).
  program.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s), getOutHelpWidth: () => width, getErrHelpWidth: () => width });
  cmd.outputHelp();
  return text;
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const firstWord = (line: string) => line.trim().split(/\s+/)[0] ?? '';

/**
 * Lines broken where commander would not have broken them: within a wrapped paragraph (the
 * description, an option's description, a paragraph of the text after), a line followed by a
 * continuation whose first word would have fitted on it. Examples, exit codes and other indented
 * tables are hand-made and left out. A line of one word so broken is reported as a stray word.
 */
export function badBreaks(text: string, width: number): string[] {
  const lines = text.split('\n');
  const bad: string[] = [];
  let section = '';
  for (let i = 0; i + 1 < lines.length; i++) {
    const l = lines[i]!;
    const n = lines[i + 1]!;
    // A block starts after a blank line; its first line says what it is.
    if (i === 0 || !lines[i - 1]!.trim()) section = l;
    if (!l.trim() || !n.trim()) continue;
    let continues: boolean;
    if (/^(Options|Arguments|Commands):$/.test(section)) continues = indentOf(n) > 2 && indentOf(n) >= indentOf(l) && !/^\s*-/.test(n);
    else if (/^(Usage|Examples|Exit codes)\b/.test(section) || /^\s/.test(section) || indentOf(l) > 0 || indentOf(n) > 0) continues = false;
    else continues = true;
    if (!continues) continue;
    // Commander fills each line (a line holds at most width - 1 characters): the next word fits only after a hard break.
    if (l.trimEnd().length + 1 + firstWord(n).length >= width - 1) continue;
    bad.push(`${/\s/.test(l.trim()) ? 'short line' : 'stray word'}: "${l}" / "${n}"`);
  }
  return bad;
}

test('badBreaks finds the old hard-wrapped paragraphs and passes commander-wrapped ones', () => {
  const hard = 'Run a command and record the memory of it and every descendant until it exits.\nstdin/stdout/stderr pass through; SIGINT/SIGTERM/SIGHUP are forwarded; memhunt exits\nwith the command\'s exit code (128+N when signal N ended it).';
  // What commander 12 made of it at 80 columns: each hard line wrapped on its own.
  const at80 = `Usage: memhunt run [options]\n\n${hard.replace('memhunt exits\n', 'memhunt\nexits\n')}\n`;
  assert.ok(badBreaks(at80, 80).some((b) => b.startsWith('stray word: "exits"')), badBreaks(at80, 80).join('\n'));
  assert.deepEqual(badBreaks(`Usage: x\n\n${wrapHelpText(joinParagraphs(hard), 80)}\n`, 80), []);
  assert.equal(joinParagraphs('a\nb\n\nc\n  - d\n  - e'), 'a b\n\nc\n  - d\n  - e');
});

test('every --help reads well at 60 and 120 columns: no stray words, one style for defaults, one meaning per short flag', async () => {
  const program = await buildProgram();
  const commands = [program, ...program.commands];
  const shortFlags = new Map<string, string>();
  for (const cmd of commands) {
    const name = cmd === program ? 'memhunt' : `memhunt ${cmd.name()}`;
    if (cmd !== program) assert.ok(cmd.description().trim().length > 20, `${name} has a description`);
    for (const width of [60, 120]) {
      const text = renderHelp(program, cmd, width);
      assert.match(text, /^Usage: memhunt/, name);
      assert.deepEqual(badBreaks(text, width), [], `${name} --help at ${width} columns`);
      assert.doesNotMatch(text, /^ \S/m, `${name}: a paragraph glued to the line before it`);
      assert.doesNotMatch(text, /default: "|\(default [^:]|default \d/, `${name}: defaults are written "(default: X)"`);
      if (width === 120) {
        // Prose after the options is wrapped too (examples are hand-made and may be longer).
        const prose = text.split('\n').filter((l) => !/^\s/.test(l) && l.length > 120);
        assert.deepEqual(prose, [], `${name}: prose lines longer than 120`);
      }
    }
    for (const o of cmd.options) {
      if (!o.short || o.hidden) continue;
      const seen = shortFlags.get(o.short);
      assert.ok(seen === undefined || seen === o.long, `${o.short} is ${seen} elsewhere but ${o.long} in ${name}`);
      shortFlags.set(o.short, o.long!);
    }
  }
  assert.equal(shortFlags.get('-t'), '--type');
});
