/**
 * How `--help` reads: commander wraps every description to the terminal's width (80 when piped),
 * so descriptions hold no hard line breaks inside a paragraph. Commander 12 wraps each hard line
 * on its own, so a paragraph broken at 100 columns came out at 80 as a full line, a stray word
 * ("exits") and the rest (issue 12). Every command gets HELP_CONFIG from the program
 * (commander copies the help configuration to each subcommand it creates).
 */
import { Help, type AddHelpTextContext, type Command, type HelpConfiguration, type Option } from 'commander';

/**
 * Joins the lines of each paragraph: a line break followed by text becomes a space. Blank lines
 * (paragraph breaks) stay, and so does a line break followed by indentation (a hand-made list or
 * table: commander leaves such text unwrapped).
 */
export function joinParagraphs(text: string): string {
  return text.replace(/([^\n])\n(?=\S)/g, '$1 ');
}

/** One style for defaults and choices: "(choices: rss, pss, uss; default: rss)". */
function optionExtras(option: Option): string[] {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(', ')}`);
  const shown = option.defaultValueDescription ?? (option.defaultValue !== undefined && typeof option.defaultValue !== 'boolean' ? String(option.defaultValue) : undefined);
  if (shown !== undefined) extra.push(`default: ${shown}`);
  return extra;
}

/**
 * Narrowest column of option descriptions commander still wraps. Commander's own floor is 40: at
 * 60 columns, beside a 30-column option term, it gave up and printed each description on one
 * line, which the terminal then broke mid-word.
 */
const MIN_WRAP_COLUMN = 20;

export const HELP_CONFIG: HelpConfiguration = {
  wrap(this: Help, str: string, width: number, indent: number, minColumnWidth?: number) {
    return Help.prototype.wrap.call(this, str, width, indent, Math.min(minColumnWidth ?? 40, MIN_WRAP_COLUMN));
  },
  commandDescription: (cmd: Command) => joinParagraphs(cmd.description()),
  subcommandDescription: (cmd: Command) => joinParagraphs(cmd.summary() || cmd.description().split('\n')[0] || ''),
  argumentDescription: (arg) => joinParagraphs(arg.description) + (arg.defaultValue !== undefined ? ` (default: ${arg.defaultValueDescription ?? String(arg.defaultValue)})` : ''),
  optionDescription: (option: Option) => {
    const extra = optionExtras(option);
    const text = joinParagraphs(option.description);
    return extra.length ? `${text} (${extra.join('; ')})` : text;
  },
};

function helpWidth(ctx: AddHelpTextContext): number {
  const cfg = ctx.command.configureOutput();
  return (ctx.error ? cfg.getErrHelpWidth?.() : cfg.getOutHelpWidth?.()) || 80;
}

/**
 * Text after a command's options, wrapped to the help's width as commander wraps descriptions:
 * each paragraph (blocks separated by blank lines) is joined and wrapped; a block with indented
 * lines (examples, lists, tables) is kept as written.
 */
export function wrapHelpText(text: string, width: number): string {
  const help = new Help();
  // Leading and trailing line breaks are kept: they separate this text from the options.
  const [, before, body, after] = /^(\n*)([\s\S]*?)(\n*)$/.exec(text)!;
  const wrapped = body!
    .split(/\n[ \t]*\n/)
    .map((block) => (/\n[ \t]/.test(block) || /^[ \t]/.test(block) ? block : help.wrap(joinParagraphs(block).replace(/\n/g, ' '), width, 0)))
    .join('\n\n');
  return before + wrapped + after;
}

/** Text for `addHelpText('after', helpProse(…))`: wrapped at the width the help uses (see wrapHelpText). */
export function helpProse(text: string): (ctx: AddHelpTextContext) => string {
  return (ctx) => wrapHelpText(text, helpWidth(ctx));
}
