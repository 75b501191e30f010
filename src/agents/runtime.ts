/**
 * Where the agents ship inside the package, and the environment that injects them
 * (docs/agent-protocol.md, "Injection"). The package root is two levels above this file's
 * compiled form (dist/agents/runtime.js), as it is for every dist/<layer>/ file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tty from 'node:tty';
import { AGENT_SOCKET_ENV } from './protocol';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const AGENT_OPTIONS_ENV = 'MEMHUNT_AGENT_OPTIONS';
/** The terminal memhunt runs in: pdb's terminal for a `--break-at` in a process whose stdin is not one. */
export const TTY_ENV = 'MEMHUNT_TTY';

export interface PythonRuntimeDirs {
  /** Holds sitecustomize.py: on PYTHONPATH, it starts the agent in every Python process. */
  inject: string;
  /** Holds the `memhunt` package programs may import (section, snapshot, isolated). */
  lib: string;
}

export function pythonRuntimeDirs(root = PACKAGE_ROOT): PythonRuntimeDirs {
  return { inject: path.join(root, 'runtimes', 'python', 'inject'), lib: path.join(root, 'runtimes', 'python', 'lib') };
}

/** What `MEMHUNT_AGENT_OPTIONS` carries (JSON). */
export interface AgentRuntimeOptions {
  trace: boolean;
  traceFrames: number;
  /** --allocations: the sampling mean in bytes (absent: no sampling). */
  allocations?: number;
}

/**
 * The path of the terminal on memhunt's stdin (/dev/pts/N), or null when stdin is not a terminal.
 * multiprocessing points a worker's stdin at /dev/null, so the agent of a worker opens this one for
 * pdb (it is in memhunt's session: the worker may read it while memhunt's process group is in the
 * foreground, which it is when a person runs memhunt at a shell prompt).
 */
export function terminalPath(): string | null {
  if (!tty.isatty(0)) return null;
  try {
    const p = fs.readlinkSync('/proc/self/fd/0');
    return p.startsWith('/dev/') ? p : null;
  } catch {
    return null;
  }
}

/**
 * The variables to add to the target's environment: the injection directory first (its
 * sitecustomize starts the agent, then chains to any other), then any existing PYTHONPATH entries,
 * then the directory of the public `memhunt` package, last, so that a program's own module named
 * memhunt, in its script's directory or on its own PYTHONPATH, is the one it imports (an empty
 * PYTHONPATH is not kept: an empty entry would add the current directory to sys.path); the socket;
 * the options; and memhunt's terminal, when it runs in one.
 */
export function agentEnvironment(
  base: NodeJS.ProcessEnv, socketPath: string, options: AgentRuntimeOptions, root = PACKAGE_ROOT, terminal = terminalPath(),
): Record<string, string> {
  const dirs = pythonRuntimeDirs(root);
  const existing = base.PYTHONPATH;
  return {
    PYTHONPATH: [dirs.inject, ...(existing ? [existing] : []), dirs.lib].join(path.delimiter),
    [AGENT_SOCKET_ENV]: socketPath,
    [AGENT_OPTIONS_ENV]: JSON.stringify(options),
    ...(terminal ? { [TTY_ENV]: terminal } : {}),
  };
}
