// Things to undo, last first, exactly once, whether the run ends, fails or is interrupted.

export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<unknown> }[] = [];
  private done: Promise<void> | undefined;

  push(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.done ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          process.stderr.write(`cleanup: ${step.name} failed: ${String(error)}\n`);
          process.exitCode = 1;
        }
      }
    })();
    return this.done;
  }
}
