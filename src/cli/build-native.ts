/** `memhunt build-native`: builds the sampled-allocation hooks for one interpreter ahead of time (images without a compiler at run time). */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { pythonRuntimeDirs } from '../agents/runtime';
import { CommandError, FailureError } from '../errors';
import { EXIT } from './exit-codes';
import { err, out } from './output';

/** Run by the target interpreter: builds into the cache (MEMHUNT_NATIVE_DIR or ~/.cache/memhunt/native), prints the path. */
const SCRIPT = `
import sys
sys.path.insert(0, sys.argv[1])
from memhunt import _alloc, _native
try:
    print(_alloc.build())
    print(_alloc.build(False, _alloc.source_path(_native.SOURCE), _native.MODULE))
except RuntimeError as e:
    sys.stderr.write('%s\\n' % e)
    sys.exit(3)
`;

export function registerBuildNativeCommand(program: Command): void {
  program
    .command('build-native')
    .summary('build the native parts (allocation hooks, census and duplicate helpers) for a Python ahead of time')
    .description(
      'Compile runtimes/python/native/memhunt_alloc.c (the hooks of run --allocations) and memhunt_heap.c\n' +
        '(the census walk and the --duplicates reads) for one interpreter into the cache they are loaded\n' +
        'from (MEMHUNT_NATIVE_DIR, else $XDG_CACHE_HOME/memhunt/native, else ~/.cache/memhunt/native).\n' +
        'memhunt does this itself at first use when a C compiler and the Python headers are present (a\n' +
        'census without them runs the slower pure-Python walk); build ahead for images that ship without them.',
    )
    .option('--python <path>', 'the interpreter to build for', 'python3')
    .addHelpText('after', `
In a Dockerfile (build stage with a compiler, the cache copied into the slim image):
  RUN memhunt build-native --python /usr/local/bin/python3
  COPY --from=build /root/.cache/memhunt /root/.cache/memhunt

Examples:
  memhunt build-native
  MEMHUNT_NATIVE_DIR=/opt/memhunt-native memhunt build-native --python /usr/bin/python3.11`)
    .action((flags: { python: string }) => {
      const env = { ...process.env };
      delete env.MEMHUNT_AGENT_SOCKET;
      delete env.MEMHUNT_AGENT_OPTIONS;
      const r = spawnSync(flags.python, ['-c', SCRIPT, pythonRuntimeDirs().lib], { encoding: 'utf8', env });
      if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new CommandError(`${flags.python}: command not found`, EXIT.NOT_FOUND);
      if (r.status !== 0) {
        const why = (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}`;
        throw new FailureError(`could not build the allocation hooks for ${flags.python}: ${why}`);
      }
      out(r.stdout);
      err(`built for ${flags.python}\n`);
    });
}
