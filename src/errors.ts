/**
 * Errors library code and commands throw. Each carries the exit code memhunt ends with (as
 * memray's MemrayCommandError(exit_code) does); src/cli/main.ts is the one place that turns them
 * into a process exit code and a line on stderr (docs: README "Exit codes"):
 *   InputError (and its subclasses), PlatformError -> 2  bad usage or bad input
 *   CommandError(message, code)                   -> code (126/127 for a command that cannot start, …)
 *   ExitStatus(code)                              -> code, nothing printed (run's target exit code, check's 3)
 *   anything else                                 -> 1, "internal error" with the stack
 * The numbers are spelled out here (not imported from cli/exit-codes.ts) because library code may
 * not import src/cli; exit-codes.ts names the same numbers for the CLI and --help.
 */

/** An error that ends the command with exitCode; its message is printed as one line. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(message: string, readonly exitCode: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Bad usage or bad input: a file that is not a recording, a cut header, an unknown pid, … (exit 2). */
export class InputError extends CommandError {
  override name = 'InputError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
  }
}

/** The file is ours (or mprof's) but broken beyond what a reader can tolerate. */
export class CorruptRecordingError extends InputError {
  override name = 'CorruptRecordingError';
}

/** memhunt itself failed in a way it can explain in one line (an output it cannot write, a peer that broke the protocol): exit 1. */
export class FailureError extends CommandError {
  override name = 'FailureError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 1, options);
  }
}

/** Linux-only features on another platform, or a kernel without a needed file (exit 2). */
export class PlatformError extends CommandError {
  override name = 'PlatformError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 2, options);
  }
}

/**
 * Not a failure of memhunt: the command finished and its outcome is an exit code other than 0
 * (run/attach: the target's own code; check/analyze: 3 for a violated limit, already reported).
 * Nothing is printed for it.
 */
export class ExitStatus extends CommandError {
  override name = 'ExitStatus';
  constructor(exitCode: number) {
    super('', exitCode);
  }
}
