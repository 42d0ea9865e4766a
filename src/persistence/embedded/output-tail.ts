// What Postgres writes while it starts and runs: its end kept, its notable lines logged.
// Postgres's output is kept only to explain a failure; this bounds what is kept.
export const outputTailCharsMax = 8_192;
// Lines of Postgres output that are worth a log line of their own once the server runs.
const notableOutput = /\b(PANIC|FATAL):|not properly shut down|automatic recovery in progress/;

/** Keeps the end of Postgres's output to explain failures, and logs the notable lines. */
export class OutputTail {
  private text = '';
  constructor(private readonly log: (m: string) => void) {}

  readonly append = (chunk: string): void => {
    this.text = (this.text + chunk).slice(-outputTailCharsMax);
    for (const line of chunk.split('\n')) {
      if (notableOutput.test(line)) this.log(`embedded postgres: ${line.trim()}`);
    }
  };

  toString(): string {
    return this.text;
  }
}
