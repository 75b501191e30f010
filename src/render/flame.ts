/**
 * Flame graphs of sampled allocations (`memhunt flame -o x.svg|x.png|x.html`): the root at the
 * top (an icicle, as memray's and speedscope's), each frame as wide as the estimated bytes under
 * it, coloured by package (your code, stdlib, each site-packages package). SVG and PNG (the SVG
 * rasterised by render/png.ts) are static, with a <title> per frame for hover; the HTML page is
 * one offline file (no CDN; every user-derived string goes through JSON with `<` escaped) with
 * click-to-zoom, search and a hover line with bytes and share. Frames narrower than MIN_PX at full
 * width are left out of the drawing (their bytes stay in their parent), so 100 k distinct stacks
 * draw as fast as the few hundred frames that are visible.
 */
import type { AllocFrame } from '../contract/shapes';
import type { WeightedStack } from '../model/allocations';
import { packageOf, shortFile } from '../model/allocations';
import { formatBytes } from '../units';
import { FONT_STACK } from './fonts';
import { escapeXml } from './layout';

export interface FlameNode {
  name: string;
  pkg: string;
  bytes: number;
  children: FlameNode[];
}

const WIDTH = 1200;
const ROW = 18;
const MIN_PX = 0.3;

/** The call tree of the positive stacks (root first). */
export function flameTree(stacks: WeightedStack[]): FlameNode {
  interface Building extends FlameNode { kids: Map<string, Building> | null }
  const root: Building = { name: 'all', pkg: '', bytes: 0, children: [], kids: null };
  const labels = new Map<AllocFrame, string>();
  for (const w of stacks) {
    if (w.bytes <= 0) continue;
    root.bytes += w.bytes;
    let node: Building = root;
    for (let i = w.stack.length - 1; i >= 0; i--) {
      const f = w.stack[i]!;
      // Frames are shared between stacks of a process (the reader keeps one array per stack id).
      let name = labels.get(f);
      if (name === undefined) labels.set(f, (name = `${f[1]} (${shortFile(f[0])}:${f[2]})`));
      const kids: Map<string, Building> = node.kids ?? (node.kids = new Map());
      let child = kids.get(name);
      if (!child) {
        child = { name, pkg: packageOf(f[0]), bytes: 0, children: [], kids: null };
        kids.set(name, child);
        node.children.push(child);
      }
      child.bytes += w.bytes;
      node = child;
    }
  }
  const finish = (n: Building): FlameNode => {
    const children = n.children.map((c) => finish(c as Building)).sort((a, b) => b.bytes - a.bytes);
    return { name: n.name, pkg: n.pkg, bytes: n.bytes, children };
  };
  return finish(root);
}

/** The tree without frames narrower than minFraction of the root (their bytes stay in the parent). */
export function pruneTree(n: FlameNode, minBytes: number): FlameNode {
  // Children are sorted largest first: the first one under minBytes ends the visible ones.
  const keep: FlameNode[] = [];
  for (const c of n.children) {
    if (c.bytes < minBytes) break;
    keep.push(pruneTree(c, minBytes));
  }
  return { name: n.name, pkg: n.pkg, bytes: n.bytes, children: keep };
}

function hue(pkg: string): string {
  if (pkg === '(your code)') return 'hsl(28, 90%, 62%)';
  if (pkg === 'stdlib') return 'hsl(210, 10%, 72%)';
  if (pkg === '(memhunt)') return 'hsl(280, 40%, 75%)';
  if (pkg === '') return 'hsl(0, 0%, 85%)';
  let h = 0;
  for (const ch of pkg) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${150 + (h % 90)}, 55%, 60%)`;
}

function depthOf(n: FlameNode): number {
  return 1 + n.children.reduce((m, c) => Math.max(m, depthOf(c)), 0);
}

/** A static SVG flame graph. */
export function renderFlameSvg(stacks: WeightedStack[], title: string): string {
  const root = flameTree(stacks);
  const total = root.bytes || 1;
  const pruned = pruneTree(root, (MIN_PX / WIDTH) * total);
  const depth = depthOf(pruned);
  const top = 40;
  const height = top + depth * ROW + 10;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${escapeXml(FONT_STACK)}" font-size="11">`);
  parts.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="10" y="22" font-size="14">${escapeXml(title)}</text>`);
  const draw = (n: FlameNode, x: number, d: number): void => {
    const w = (n.bytes / total) * WIDTH;
    const y = top + d * ROW;
    const label = `${n.name}: ${formatBytes(n.bytes)} (${((100 * n.bytes) / total).toFixed(1)}%)${n.pkg && n.pkg !== '(your code)' ? ` [${n.pkg}]` : ''}`;
    parts.push(`<g><title>${escapeXml(label)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(0.1, w - 0.5).toFixed(2)}" height="${ROW - 1}" fill="${hue(n.pkg)}"/>`);
    const chars = Math.floor((w - 6) / 6.5);
    if (chars >= 3) {
      const text = n.name.length > chars ? `${n.name.slice(0, chars - 1)}…` : n.name;
      parts.push(`<text x="${(x + 3).toFixed(2)}" y="${y + 13}">${escapeXml(text)}</text>`);
    }
    parts.push('</g>');
    let cx = x;
    for (const c of n.children) {
      draw(c, cx, d + 1);
      cx += (c.bytes / total) * WIDTH;
    }
  };
  draw(pruned, 0, 0);
  parts.push('</svg>');
  return parts.join('\n');
}

/** JSON inside a <script>: `<` escaped so no user text can end the script. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** An interactive, offline, single-file HTML flame graph: click to zoom, search, hover for bytes and share. */
export function renderFlameHtml(stacks: WeightedStack[], title: string): string {
  const root = flameTree(stacks);
  // Frames under 1/20000 of the total cannot be seen even zoomed in twice; they stay in their parent.
  const pruned = pruneTree(root, root.bytes / 20000);
  const pack = (n: FlameNode): unknown[] => [n.name, n.pkg, Math.round(n.bytes), n.children.map(pack)];
  const colors = Object.fromEntries([...new Set(collectPkgs(pruned))].map((p) => [p, hue(p)]));
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="generator" content="memhunt flame"><title>${escapeXml(title)}</title>
<style>
body{font:12px ${FONT_STACK};margin:12px;color:#222}
#bar{margin:6px 0}#info{height:1.4em;margin:4px 0;white-space:nowrap;overflow:hidden}
#g{position:relative;width:100%;user-select:none}
.f{position:absolute;height:17px;overflow:hidden;white-space:nowrap;box-sizing:border-box;border-right:1px solid #fff;padding-left:3px;line-height:17px;cursor:pointer}
.f.m{outline:2px solid #c00;outline-offset:-2px}
</style></head><body>
<h3 id="t"></h3>
<div id="bar"><input id="q" placeholder="search frames (regexp)" size="40"> <button id="reset">reset zoom</button> <span id="found"></span></div>
<div id="info">hover a frame for its bytes; click to zoom</div>
<div id="g"></div>
<script>
const DATA=${scriptJson(pack(pruned))};
const COLORS=${scriptJson(colors)};
const TITLE=${scriptJson(title)};
document.getElementById('t').textContent=TITLE;
const g=document.getElementById('g'),info=document.getElementById('info'),q=document.getElementById('q'),found=document.getElementById('found');
const TOTAL=DATA[2]||1;
function fmt(b){const u=['B','KiB','MiB','GiB','TiB'];let i=0;while(b>=1024&&i<u.length-1){b/=1024;i++;}return (i?b.toFixed(b<10?2:b<100?1:0):b)+' '+u[i];}
let focus=DATA,focusPath=[DATA];
function draw(){
  g.textContent='';
  const W=g.clientWidth||1200,rows=[];
  const re=q.value?safeRe(q.value):null;let matched=0;
  const put=(n,x,d,scale)=>{
    const w=n[2]*scale;if(w<0.5)return;
    const e=document.createElement('div');e.className='f';
    e.style.left=x+'px';e.style.top=(d*18)+'px';e.style.width=w+'px';e.style.background=COLORS[n[1]]||'#ddd';
    if(w>30)e.textContent=n[0];
    if(re&&re.test(n[0])){e.classList.add('m');matched+=n[2];}
    e.onmouseenter=()=>{info.textContent=n[0]+': '+fmt(n[2])+' ('+(100*n[2]/TOTAL).toFixed(1)+'% of all, '+(100*n[2]/focus[2]).toFixed(1)+'% of the zoomed frame)'+(n[1]&&n[1]!=='(your code)'?' ['+n[1]+']':'');};
    e.onclick=(ev)=>{ev.stopPropagation();zoom(n);};
    g.appendChild(e);rows[d]=1;
    let cx=x;for(const c of n[3]){put(c,cx,d+1,scale);cx+=c[2]*scale;}
  };
  let d=0;for(const a of focusPath.slice(0,-1)){const e=document.createElement('div');e.className='f';e.style.left='0px';e.style.top=(d*18)+'px';e.style.width=W+'px';e.style.background='#eee';e.textContent=a[0];e.onclick=()=>zoom(a);g.appendChild(e);d++;}
  put(focus,0,d,W/(focus[2]||1));
  g.style.height=((rows.length||1)*18+4)+'px';
  found.textContent=re?('matched: '+fmt(matched)+' ('+(100*matched/TOTAL).toFixed(1)+'%)'):'';
}
function safeRe(s){try{return new RegExp(s,'i');}catch(e){return null;}}
function pathTo(n,target,acc){acc.push(n);if(n===target)return true;for(const c of n[3]){if(pathTo(c,target,acc))return true;}acc.pop();return false;}
function zoom(n){const p=[];pathTo(DATA,n,p);focus=n;focusPath=p.length?p:[DATA];draw();}
document.getElementById('reset').onclick=()=>zoom(DATA);
q.oninput=draw;window.onresize=draw;
draw();
</script></body></html>
`;
}

function collectPkgs(n: FlameNode, out: string[] = []): string[] {
  out.push(n.pkg);
  for (const c of n.children) collectPkgs(c, out);
  return out;
}
