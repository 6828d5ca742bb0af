/** A command line the CLI cannot run: printed as `Error: <message>`, exit code 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
