/** The message of anything thrown, for log lines and user-facing text: `Error`s give their message, anything else its string form. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Name and message (`TypeError: ...`) for operator logs, never a stack: stacks can carry paths and values. */
export function errorSummary(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
