/** What every `ioperm` subcommand module exports as `command`. */
export interface Command {
  /** One line for `ioperm help`. */
  summary: string;
  /** Runs with the arguments after the command's name; resolves with the exit code (64: usage error). */
  run(args: string[]): Promise<number>;
}
