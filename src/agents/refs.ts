/**
 * Back-reference graphs (objgraph's show_backrefs) as Graphviz DOT and as text chains. The graph
 * comes from an agent's `refs` reply or a `refs` record: nodes are sample objects of the asked
 * type, the objects that refer to them, and the roots those chains reach (module globals, frames,
 * classes); an edge goes from the referrer to the referent, labelled with the attribute name,
 * dict key or list index that holds it.
 */
import type { RefsCut } from '../contract/shapes';
import type { RefsGraphNode } from '../model/recording';
import { formatBytes } from '../units';

export interface RefsGraph {
  pid: number;
  typeName: string;
  count: number;
  reachedRoot: boolean;
  nodes: RefsGraphNode[];
  edges: Array<{ from: string; to: string; label: string }>;
  /** The agent cut the graph to bound how long it held the program (absent: complete). */
  cut?: RefsCut;
}

/**
 * One line saying where and why the agent cut a graph ("graph cut after 152 ms, 41,322 objects
 * examined: ..."), or '' for a complete one.
 */
/** "at least " when the count is only what a cut search found. */
export function countPrefix(cut: RefsCut | undefined): string {
  return cut?.stage === 'search' && cut.countFrom === 'search' ? 'at least ' : '';
}

export function refsCutText(cut: RefsCut | undefined, typeName: string): string {
  if (!cut) return '';
  const head = `graph cut after ${Math.round(cut.afterMs).toLocaleString('en-US')} ms, ${Math.round(cut.objectsExamined).toLocaleString('en-US')} objects examined`;
  const budget = cut.budgetMs !== undefined ? ` (budget ${Math.round(cut.budgetMs)} ms of the program held; MEMHUNT_REFS_BUDGET_MS changes it)` : '';
  if (cut.stage === 'search') {
    return `${head}: the search for ${typeName} objects stopped ${cut.reason === 'objects' ? 'once it had enough of them' : 'when its time was spent'}; the samples are among the newest it examined${budget}`;
  }
  return `${head}: the chains stopped following referrers when the time was spent (a module global or a running function's local holding them was still looked for)${budget}`;
}

/** The family every picture of memhunt uses; Graphviz (viz.js) estimates its widths, resvg draws it. */
export const REFS_FONT = 'DejaVu Sans';

const FILL: Record<RefsGraphNode['kind'], string> = {
  sample: '#fcd5ce',
  object: '#ffffff',
  module: '#d8f3dc',
  global: '#d8f3dc',
  frame: '#dbe9f6',
  class: '#fff3bf',
};

const ROOT_KINDS = new Set<RefsGraphNode['kind']>(['module', 'global', 'frame', 'class']);

export function isRoot(n: RefsGraphNode): boolean {
  return ROOT_KINDS.has(n.kind);
}

/** Text for a double-quoted DOT string: backslashes and quotes escaped, control characters dropped. */
export function dotString(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f\u007f]/g, ' ');
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function nodeTitle(n: RefsGraphNode): string {
  switch (n.kind) {
    case 'module':
      return `module ${n.label || n.type}`;
    case 'global':
      return `global ${n.label}`;
    case 'frame':
      return `frame ${n.label}`;
    case 'class':
      return `class ${n.label || n.type}`;
    default:
      return n.type;
  }
}

/** "list, 20000 items of app.Record" rather than "list list, 20000 items of app.Record". */
function describe(n: RefsGraphNode, max: number): string {
  if (!n.label) return n.type;
  if (n.label.startsWith(n.type)) return shorten(n.label, max);
  // "DataFrame 1000×5" (the agent's label of a pandas object) under its full type name, said once.
  const short = n.type.slice(n.type.lastIndexOf('.') + 1);
  if (short !== n.type && n.label.startsWith(`${short} `)) return `${n.type} ${shorten(n.label.slice(short.length + 1), max)}`;
  return `${n.type} ${shorten(n.label, max)}`;
}

/** The DOT text of a graph: roots on top, samples at the bottom, edges labelled with what holds what. */
export function refsToDot(g: RefsGraph): string {
  const lines: string[] = [];
  const title = `${countPrefix(g.cut)}${g.count} live ${g.typeName} object${g.count === 1 ? '' : 's'} in pid ${g.pid}: who keeps them alive` +
    (g.reachedRoot ? '' : g.cut?.stage === 'chains' ? ' (some chains stop before a root: the graph was cut)' : ' (some chains stop before a root: raise the depth)') +
    (g.cut ? `\n(${refsCutText(g.cut, g.typeName)})` : '');
  lines.push('digraph refs {');
  lines.push(`  graph [rankdir=TB, fontname="${REFS_FONT}", fontsize=12, labelloc=t, label="${dotString(title)}", nodesep=0.3, ranksep=0.45];`);
  lines.push(`  node [shape=box, style="rounded,filled", fontname="${REFS_FONT}", fontsize=10, margin="0.12,0.06", color="#555555"];`);
  lines.push(`  edge [fontname="${REFS_FONT}", fontsize=9, color="#666666", fontcolor="#333333", arrowsize=0.7];`);
  const ids = new Map<string, string>();
  g.nodes.forEach((n, i) => ids.set(n.id, `n${i}`));
  for (const n of g.nodes) {
    const parts = [nodeTitle(n)];
    if (n.kind === 'sample' || n.kind === 'object') {
      // A repr that starts with the type name says it already ("list, 20000 items of app.Record").
      if (n.label.startsWith(n.type)) parts[0] = shorten(n.label, 60);
      else if (n.label) parts.push(shorten(n.label, 60));
    }
    if (n.ownsBytes !== undefined && !isRoot(n)) parts.push(`owns ${formatBytes(n.ownsBytes)}`);
    else if (n.bytes > 0 && !isRoot(n)) parts.push(formatBytes(n.bytes));
    const label = parts.map((p) => dotString(p)).join('\\n');
    const extra = n.kind === 'sample' ? ', penwidth=1.6, color="#c0392b"' : isRoot(n) ? ', penwidth=1.4' : '';
    lines.push(`  ${ids.get(n.id)} [label="${label}", fillcolor="${FILL[n.kind] ?? '#ffffff'}"${extra}];`);
  }
  for (const e of g.edges) {
    const a = ids.get(e.from);
    const b = ids.get(e.to);
    if (!a || !b) continue;
    lines.push(`  ${a} -> ${b}${e.label ? ` [label="${dotString(shorten(e.label, 40))}"]` : ''};`);
  }
  // Samples share the bottom rank so the chains read top-down from their roots.
  const samples = g.nodes.filter((n) => n.kind === 'sample').map((n) => ids.get(n.id));
  if (samples.length > 1) lines.push(`  { rank=same; ${samples.join('; ')}; }`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * For each sample, the shortest chain of referrers to a root, as lines a terminal shows:
 *   leaky.Leaky <leaky.Leaky object at 0x7f…>
 *     held by list (5000 items) as [41]
 *     held by global CACHE (module __main__) as CACHE
 */
export function refsChains(g: RefsGraph): string[] {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const referrers = new Map<string, Array<{ from: string; label: string }>>();
  for (const e of g.edges) {
    const list = referrers.get(e.to) ?? [];
    list.push({ from: e.from, label: e.label });
    referrers.set(e.to, list);
  }
  const out: string[] = [];
  for (const s of g.nodes.filter((n) => n.kind === 'sample')) {
    out.push(describe(s, 70));
    // Breadth-first towards the roots: the shortest chain is the one a person reads first.
    const prev = new Map<string, { id: string; label: string } | null>([[s.id, null]]);
    const queue = [s.id];
    let root: string | null = null;
    while (queue.length && root === null) {
      const id = queue.shift()!;
      for (const r of referrers.get(id) ?? []) {
        if (prev.has(r.from)) continue;
        prev.set(r.from, { id, label: r.label });
        const n = byId.get(r.from);
        if (n && isRoot(n)) {
          root = r.from;
          break;
        }
        queue.push(r.from);
      }
    }
    if (root === null) {
      out.push('  (no chain to a root within the depth asked: a reference cycle, or raise --depth)');
      continue;
    }
    const chain: Array<{ id: string; label: string }> = [];
    for (let id: string = root; id !== s.id; ) {
      const p = prev.get(id)!;
      chain.push({ id, label: p.label });
      id = p.id;
    }
    chain.reverse();
    for (const c of chain) {
      const n = byId.get(c.id)!;
      let what = isRoot(n) ? nodeTitle(n) : describe(n, 50);
      if (n.kind === 'global') {
        // Say whose global it is: the module that refers to it, when the graph has it.
        const mod = (referrers.get(n.id) ?? []).map((r) => byId.get(r.from)).find((m) => m?.kind === 'module');
        if (mod) what += ` of module ${mod.label || mod.type}`;
      }
      out.push(`  held by ${what}${c.label ? ` as ${c.label}` : ''}`);
    }
  }
  return out;
}
