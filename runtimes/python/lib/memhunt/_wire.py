"""The wire format: newline-delimited JSON (docs/agent-protocol.md).

Encoding is done here rather than with the json module: `import json` pulls in `re` and costs
6-8 ms at start-up on 3.8/3.13 here (python -X importtime), against ~14 ms for a whole `python3 -c
pass`, and the agent starts in every Python process of the tree. Decoding (requests from memhunt,
which only arrive once a session asks for something) imports json then, in the agent's thread.
"""
import sys

#: The protocol version this agent speaks (docs/agent-protocol.md).
PROTOCOL = 1

_ESCAPES = {i: '\\u%04x' % i for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord('\\'): '\\\\', ord('\n'): '\\n', ord('\r'): '\\r', ord('\t'): '\\t'})
_float_repr = float.__repr__
_int_repr = int.__repr__
_str_translate = str.translate


def _enc(o, out):
    t = type(o)
    if t is str:
        out.append('"')
        out.append(_str_translate(o, _ESCAPES))
        out.append('"')
    elif o is None:
        out.append('null')
    elif o is True:
        out.append('true')
    elif o is False:
        out.append('false')
    elif t is int:
        out.append(_int_repr(o))
    elif t is float:
        # NaN and infinities are not JSON.
        out.append(_float_repr(o) if o == o and o not in (float('inf'), float('-inf')) else 'null')
    elif t is dict:
        out.append('{')
        first = True
        for k, v in o.items():
            if not first:
                out.append(',')
            first = False
            _enc(k if type(k) is str else str(k), out)
            out.append(':')
            _enc(v, out)
        out.append('}')
    elif t in (list, tuple):
        out.append('[')
        first = True
        for v in o:
            if not first:
                out.append(',')
            first = False
            _enc(v, out)
        out.append(']')
    elif isinstance(o, int):  # bool is handled above; IntEnum and friends
        out.append(_int_repr(int(o)))
    elif isinstance(o, float):
        _enc(float(o), out)
    elif isinstance(o, str):
        _enc(str.__str__(o), out)
    else:
        _enc(str(o), out)


def encode(msg):
    """One message as a line of UTF-8 bytes. Lone surrogates (from undecodable file names) become
    \\udcXX escapes, which JSON allows inside strings."""
    out = []
    _enc(msg, out)
    out.append('\n')
    return ''.join(out).encode('utf-8', 'backslashreplace')


_loads = None


def decode(line):
    global _loads
    if _loads is None:
        import json
        _loads = json.loads
    return _loads(line.decode('utf-8', 'replace'))


def version_string():
    v = sys.version_info
    s = '%d.%d.%d' % (v[0], v[1], v[2])
    if v[3] != 'final':
        s += {'alpha': 'a', 'beta': 'b', 'candidate': 'rc'}.get(v[3], v[3]) + str(v[4])
    return s
