/**
 * Exit codes, documented in the README ("Exit codes") and in `memhunt --help`. Commands throw
 * the error types of src/errors.ts, which carry these numbers; main() turns them into the exit code.
 */
import { ExitStatus } from '../errors';

export const EXIT = {
  OK: 0,
  /** memhunt itself failed (I/O error, bug). */
  FAILURE: 1,
  /** Bad usage or bad input: unknown option, malformed size, not a recording, no such pid. */
  USAGE: 2,
  /** `check`, and `analyze` with limits: the recording violates a limit (--max-peak, --max-growth, --no-leak, --max-share-of-limit). */
  LIMIT_VIOLATED: 3,
  /** `scale` with a limit: the data cannot decide (undecided models) and their range crosses the limit: run a larger size. */
  SCALE_UNDECIDED: 4,
  /** The command exists but cannot be executed. */
  NOT_EXECUTABLE: 126,
  /** The command does not exist. */
  NOT_FOUND: 127,
  /** --limit was exceeded and memhunt killed the tree (SIGKILL, as the OOM killer does): 128 + 9. */
  LIMIT_KILLED: 137,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    success (run/attach: the target exited 0); a closed output pipe (| head)
  1    memhunt itself failed (an output it could not finish, a malformed agent reply, internal error)
  2    bad usage or bad input (unknown option, malformed size, not a recording, no such pid, an
       output that cannot be opened or is not memhunt's to replace: see --force)
  3    check (and analyze with limits): a limit was violated (--max-peak, --max-growth,
       --no-leak, --max-share-of-limit); scale: the request does not fit --limit (the
       projection is decided)
  4    scale with a limit: undecided: the models that fit the runs disagree and the request over
       them does not fit --limit; the output names a size to run next
  126  the command cannot be executed (permission denied)
  127  the command was not found
  137  --limit exceeded: memhunt killed the process tree with SIGKILL
  N    run: the target's own exit code; 128+S when a signal S ended it (137 = SIGKILL,
       e.g. by the OOM killer); scale: the command's own code when fewer than 3 sizes
       completed (it says so)`;

/** Ends an action with code: nothing for 0, else an ExitStatus that main() turns into the exit code.
 * Here, not in run.ts: `analyze` then does not load the sampler (~60 ms of CPU a start). */
export function exitWith(code: number): void {
  if (code !== EXIT.OK) throw new ExitStatus(code);
}
