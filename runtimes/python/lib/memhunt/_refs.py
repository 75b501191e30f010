"""Back-reference graphs (objgraph.show_backrefs parity): who keeps objects of a type alive.

Sample objects of the type are followed back through gc.get_referrers, breadth first, to roots:
a module's globals (drawn as the module, the edge labelled with the global's name), a class
(class attribute) or a frame (a local of a running function). Each level costs one pass over
the heap (gc.get_referrers of the whole frontier at once, rather than one pass per object).

Left out, so that the graph shows the program and not the search: the agent's own frames and
containers (the frontier, the samples, the list of matches), and gc.get_referrers' own arguments.
Untracked containers (a tuple of strings after a collection) are not seen as referrers: gc only
knows tracked objects.
"""
import difflib
import gc
import sys

from . import _census, _util

_get_referrers = gc.get_referrers
_get_referents = gc.get_referents
_FrameType = type(sys._getframe())
_ModuleType = type(sys)


def _a_cell():
    x = 1
    return (lambda: x).__closure__[0]


_CellType = type(_a_cell())

#: Referrers followed per object and nodes per graph: enough for the chains, small enough to read.
MAX_REFERRERS_PER_OBJECT = 8
MAX_NODES = 250


class _FindVisitor(_census.CensusVisitor):
    """A census that also keeps every object whose type name matches."""

    def __init__(self, match):
        _census.CensusVisitor.__init__(self)
        self.match = match
        self.matching = set()
        self.found = []
        self.seen_types = set()

    def __call__(self, chunk, expand=True):
        types = list(map(type, chunk))
        present = set(types)
        new = present - self.seen_types
        if new:
            self.seen_types |= new
            for t in new:
                try:
                    if self.match(t):
                        self.matching.add(t)
                except Exception:
                    pass
        if not self.matching.isdisjoint(present):
            from itertools import compress
            self.found.extend(compress(chunk, map(self.matching.__contains__, types)))
        return _census.CensusVisitor.__call__(self, chunk, expand)


def _matcher(type_name):
    def match(t):
        full = _util.type_name(t)
        if full == type_name:
            return True
        if '.' not in type_name:
            # "DataFrame" matches pandas.core.frame.DataFrame; "Record" matches mymod.Record.
            return getattr(t, '__qualname__', None) == type_name or getattr(t, '__name__', None) == type_name
        return False
    return match


def _fastest_growing(prev_counts):
    from ._errors import RequestError
    if prev_counts is None:
        raise RequestError('no earlier census to compare with: take a census first (memhunt snapshot, '
                           '--heap-every) or name a type')
    visitor, _, _, _ = _census.gather(False)
    _, _, _, _, counts = visitor.result(None)
    del visitor
    best = None
    for name, n in counts.items():
        d = n - prev_counts.get(name, 0)
        if d > 0 and (best is None or d > best[0] or (d == best[0] and name < best[1])):
            best = (d, name)
    if best is None:
        raise RequestError('no type has more objects than at the previous census; name a type')
    return best[1]


class _Graph(object):
    def __init__(self):
        self.nodes = []
        self.edges = []
        self.node_of = {}   # id(obj) -> node id
        self.keep = []      # the objects of the nodes, alive while the graph is built
        self.kind = {}
        self.edge_set = set()

    def add(self, obj, kind, label=None, type_name=None):
        key = id(obj)
        nid = self.node_of.get(key)
        if nid is not None:
            return nid, False
        nid = 'n%d' % len(self.nodes)
        self.node_of[key] = nid
        self.keep.append(obj)
        self.kind[nid] = kind
        self.nodes.append({
            'id': nid,
            'type': type_name or _util.type_name(type(obj)),
            'label': label if label is not None else _util.short_repr(obj),
            'kind': kind,
            'bytes': _util.safe_sizeof(obj),
        })
        return nid, True

    def edge(self, src, dst, label):
        if (src, dst) in self.edge_set:
            return
        self.edge_set.add((src, dst))
        self.edges.append({'from': src, 'to': dst, 'label': label})


def _key_label(k):
    if isinstance(k, str):
        return k
    return _util.short_repr(k, 40)


def _edge_label(holder, target):
    """How holder refers to target: attribute name, dict key, list index, or ''."""
    try:
        t = type(holder)
        if t is dict or isinstance(holder, dict):
            for k, v in dict.items(holder):
                if v is target:
                    return _key_label(k)
                if k is target:
                    return '(key)'
            return ''
        if t in (list, tuple) or isinstance(holder, (list, tuple)):
            for i, v in enumerate(holder):
                if v is target:
                    return '[%d]' % i
            return ''
        if isinstance(holder, (set, frozenset)):
            return '(member)'
        if t is _FrameType:
            for k, v in holder.f_locals.items():
                if v is target:
                    return k
            return ''
        if t is _CellType:
            return 'cell_contents'
        if isinstance(holder, type):
            for k, v in type.__dict__['__dict__'].__get__(holder).items():
                if v is target:
                    return k
            return ''
        try:
            d = object.__getattribute__(holder, '__dict__')
        except Exception:
            d = None
        if type(d) is dict:
            if d is target:
                return '__dict__'
            for k, v in d.items():
                if v is target:
                    return _key_label(k)
        for k in type.__dict__['__mro__'].__get__(t):
            for name, desc in type.__dict__['__dict__'].__get__(k).items():
                if type(desc).__name__ == 'member_descriptor':
                    try:
                        if desc.__get__(holder, t) is target:
                            return name
                    except Exception:
                        pass
        for name in ('__self__', '__func__', '__wrapped__', '__closure__', '__defaults__',
                     '__globals__', 'f_back', 'gi_frame', 'cr_frame', '__objclass__'):
            try:
                if object.__getattribute__(holder, name) is target:
                    return name
            except Exception:
                pass
    except Exception:
        pass
    return ''


def refs(type_name, samples, max_depth, prev_counts):
    """A RefsResult (src/agents/protocol.ts)."""
    from ._errors import RequestError
    if type_name is None:
        type_name = _fastest_growing(prev_counts)
    type_name = type_name.strip()
    visitor = _FindVisitor(_matcher(type_name))
    _census.walk_heap(visitor)
    found = visitor.found
    if not found:
        _, _, _, _, counts = visitor.result(None)
        names = sorted(counts)
        short = {}
        for n in names:
            short.setdefault(n.rsplit('.', 1)[-1], []).append(n)
        close = difflib.get_close_matches(type_name, names, n=6, cutoff=0.6)
        for s in difflib.get_close_matches(type_name.rsplit('.', 1)[-1], list(short), n=6, cutoff=0.6):
            close += [n for n in short[s] if n not in close]
        low = type_name.lower()
        close += [n for n in names if low in n.lower() and n not in close][:6]
        raise RequestError('no object of type %s is alive; types that are: %s'
                           % (type_name, ', '.join(close[:8]) if close else
                              '(none with a similar name; memhunt heap lists them)'))
    matched = sorted({_util.type_name(t) for t in visitor.matching})
    resolved = matched[0] if len(matched) == 1 else type_name
    count = len(found)
    del visitor
    step = max(1, count // samples)
    picked = found[::step][:samples]
    del found
    return _backrefs(resolved, count, picked, max_depth)


def _backrefs(type_name, count, picked, max_depth):
    import _thread
    g = _Graph()
    # Since 3.11 a running function's frame does not show its locals to gc; a copy of them does,
    # and stands for the frame.
    frames = _util.thread_frames(_thread.get_ident())
    frame_of_copy = {id(c): (f, c) for f, c in _util.locals_copies(frames)}
    del frames
    module_of_dict = {}
    for name, m in list(sys.modules.items()):
        try:
            d = object.__getattribute__(m, '__dict__')
            module_of_dict[id(d)] = m
        except Exception:
            pass
    sample_ids = []
    for o in picked:
        nid, _ = g.add(o, 'sample')
        sample_ids.append(nid)
    frontier = list(picked)
    own = [picked, frontier, g.keep, g.nodes, module_of_dict, frame_of_copy]
    roots = set()
    depth = 0
    while frontier and depth < max_depth and len(g.nodes) < MAX_NODES:
        depth += 1
        frontier_ids = {id(o): g.node_of[id(o)] for o in frontier}
        own.append(frontier_ids)
        referrers = _get_referrers(*frontier)
        referrers = [r for r in referrers if not any(r is x for x in own)]
        # Roots first, so a capped search still ends at a module, class or frame when one is there.
        referrers.sort(key=lambda r: 0 if (id(r) in module_of_dict or id(r) in frame_of_copy
                                           or isinstance(r, (type, _ModuleType))
                                           or type(r) is _FrameType) else 1)
        own.append(referrers)
        nxt = []
        own.append(nxt)
        per_target = {}
        for r in referrers:
            if len(g.nodes) >= MAX_NODES:
                break
            if type(r) is _FrameType and _util.is_agent_frame(r):
                continue
            try:
                targets = [o for o in _get_referents(r) if id(o) in frontier_ids]
            except Exception:
                continue
            if not targets:
                continue
            targets = [o for o in targets if per_target.get(id(o), 0) < MAX_REFERRERS_PER_OBJECT]
            if not targets:
                continue
            module = module_of_dict.get(id(r))
            if module is not None:
                name = getattr(module, '__name__', '?')
                nid, new = g.add(module, 'module', label=str(name), type_name='module')
                roots.add(nid)
                for o in targets:
                    per_target[id(o)] = per_target.get(id(o), 0) + 1
                    g.edge(nid, frontier_ids[id(o)], _edge_label(r, o))
                continue
            copy = frame_of_copy.get(id(r))
            if copy is not None and copy[1] is r:
                nid, new = g.add(copy[0], 'frame')
                roots.add(nid)
                for o in targets:
                    per_target[id(o)] = per_target.get(id(o), 0) + 1
                    g.edge(nid, frontier_ids[id(o)], _edge_label(r, o))
                continue
            if isinstance(r, type):
                kind = 'class'
            elif type(r) is _FrameType:
                kind = 'frame'
            elif type(r) is _ModuleType:
                kind = 'module'
            else:
                kind = 'object'
            nid, new = g.add(r, kind)
            if kind != 'object':
                roots.add(nid)
            for o in targets:
                per_target[id(o)] = per_target.get(id(o), 0) + 1
                g.edge(nid, frontier_ids[id(o)], _edge_label(r, o))
            if new and kind == 'object':
                nxt.append(r)
        targets = None
        own.remove(frontier_ids)
        own.remove(referrers)
        own.remove(nxt)
        del referrers, frontier_ids
        frontier = nxt
        own[1] = frontier
    _collapse_dicts(g)
    reached = _prune(g, sample_ids, roots)
    return {
        'typeName': type_name,
        'count': count,
        'nodes': g.nodes,
        'edges': g.edges,
        'reachedRoot': reached,
    }


def _collapse_dicts(g):
    """obj -[__dict__]-> dict -[key]-> x  becomes  obj -[key]-> x (and the same for a class's
    namespace): the attribute, not the dict that implements it, is what a reader looks for."""
    by_id = {n['id']: n for n in g.nodes}
    obj_of = dict(zip((n['id'] for n in g.nodes), g.keep))
    into = {}
    out = {}
    for e in g.edges:
        into.setdefault(e['to'], []).append(e)
        out.setdefault(e['from'], []).append(e)
    drop_nodes = set()
    for nid, node in by_id.items():
        d = obj_of.get(nid)
        if type(d) is not dict or node['kind'] != 'object':
            continue
        parents = into.get(nid, [])
        if len(parents) != 1:
            continue
        owner = obj_of.get(parents[0]['from'])
        try:
            if isinstance(owner, type):
                is_ns = False
                for x in _get_referents(owner):
                    if x is d:
                        is_ns = True
                        break
            else:
                is_ns = object.__getattribute__(owner, '__dict__') is d
        except Exception:
            is_ns = False
        if not is_ns:
            continue
        drop_nodes.add(nid)
        parents[0]['drop'] = True
        for e in out.get(nid, []):
            e['from'] = parents[0]['from']
    if drop_nodes:
        g.edges = [e for e in g.edges if not e.get('drop') and e['to'] not in drop_nodes]
        keep = [i for i, n in enumerate(g.nodes) if n['id'] not in drop_nodes]
        g.nodes = [g.nodes[i] for i in keep]
        g.keep = [g.keep[i] for i in keep]
    for e in g.edges:
        e.pop('drop', None)


def _prune(g, sample_ids, roots):
    """Keeps the nodes on a path from a sample to a root; for a sample that reached no root, keeps
    everything found above it. Returns whether every sample reached a root."""
    down = {}
    up = {}
    for e in g.edges:
        down.setdefault(e['from'], []).append(e['to'])
        up.setdefault(e['to'], []).append(e['from'])
    from_roots = set(r for r in roots if any(n['id'] == r for n in g.nodes))
    stack = list(from_roots)
    while stack:
        n = stack.pop()
        for m in down.get(n, ()):
            if m not in from_roots:
                from_roots.add(m)
                stack.append(m)
    keep = set()
    all_reached = True
    for s in sample_ids:
        above = {s}
        stack = [s]
        while stack:
            n = stack.pop()
            for m in up.get(n, ()):
                if m not in above:
                    above.add(m)
                    stack.append(m)
        if s in from_roots:
            keep |= above & from_roots
        else:
            all_reached = False
            keep |= above
    g.nodes = [n for n in g.nodes if n['id'] in keep]
    g.edges = [e for e in g.edges if e['from'] in keep and e['to'] in keep]
    return all_reached
