/** The message of anything thrown, for log lines and user-facing text: `Error`s give their message, anything else its string form. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
