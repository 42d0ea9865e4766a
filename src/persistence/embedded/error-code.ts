// The `code` of a Node system error (ENOENT, ESRCH, EACCES...): the callers in this folder tell
// "the file or process is gone" apart from real failures by it.
export function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
