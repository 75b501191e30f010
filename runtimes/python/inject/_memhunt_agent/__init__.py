"""The agent's modules (../../lib/memhunt/) under a private name, for memhunt's start-up hook.

sitecustomize.py starts the agent as `_memhunt_agent._agent`, not `memhunt._agent`: importing the
package `memhunt` at start-up would put that name in sys.modules before the program runs, and a
program's own `memhunt.py` (next to its script, or anywhere on its path) would then never be
imported: `import memhunt` would return ours. The files are the same; only the name differs. A
program that imports memhunt and gets ours (lib/ is on PYTHONPATH after the program's own
directories) talks to this running agent (see memhunt/__init__.py, _impl).
"""
import os

__path__ = [os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'lib', 'memhunt')]
