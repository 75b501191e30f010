/**
 * Errors library code throws. Only src/cli turns them into exit codes (docs: README "Exit codes"):
 * InputError -> 2 (bad input: a file that is not a recording, a cut header, an unknown pid, …),
 * anything else -> 1.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** The file is ours (or mprof's) but broken beyond what a reader can tolerate. */
export class CorruptRecordingError extends InputError {
  override name = 'CorruptRecordingError';
}

/** Linux-only features on another platform, or a kernel without a needed file. */
export class PlatformError extends Error {
  override name = 'PlatformError';
}
