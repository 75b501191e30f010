/**
 * Where the agents ship inside the package, and the environment that injects them
 * (docs/agent-protocol.md, "Injection"). The package root is two levels above this file's
 * compiled form (dist/agents/runtime.js), as it is for every dist/<layer>/ file.
 */
import * as path from 'node:path';
import { AGENT_SOCKET_ENV } from './protocol';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const AGENT_OPTIONS_ENV = 'MEMHUNT_AGENT_OPTIONS';

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
}

/**
 * The variables to add to the target's environment: the injection directories before any existing
 * PYTHONPATH entries (an empty PYTHONPATH is not kept: an empty entry would add the current
 * directory to sys.path), the socket, and the options.
 */
export function agentEnvironment(base: NodeJS.ProcessEnv, socketPath: string, options: AgentRuntimeOptions, root = PACKAGE_ROOT): Record<string, string> {
  const dirs = pythonRuntimeDirs(root);
  const existing = base.PYTHONPATH;
  return {
    PYTHONPATH: [dirs.inject, dirs.lib, ...(existing ? [existing] : [])].join(path.delimiter),
    [AGENT_SOCKET_ENV]: socketPath,
    [AGENT_OPTIONS_ENV]: JSON.stringify(options),
  };
}
