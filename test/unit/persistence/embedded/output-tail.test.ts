// Proves the output tail keeps only the last outputTailCharsMax characters and logs exactly the
// notable lines (PANIC, FATAL, an unclean stop, recovery), by feeding it chunks of sample output.
import { describe, expect, it } from 'vitest';
import {
  OutputTail,
  outputTailCharsMax,
} from '../../../../src/persistence/embedded/output-tail.js';

function tailWithLog(): { tail: OutputTail; logged: string[] } {
  const logged: string[] = [];
  return { tail: new OutputTail((line) => logged.push(line)), logged };
}

describe('OutputTail', () => {
  it('keeps everything while the output is shorter than its bound', () => {
    const { tail } = tailWithLog();
    tail.append('LOG:  starting PostgreSQL\n');
    tail.append('LOG:  database system is ready to accept connections\n');
    expect(tail.toString()).toBe(
      'LOG:  starting PostgreSQL\nLOG:  database system is ready to accept connections\n',
    );
  });

  it('keeps only the last outputTailCharsMax characters once the output grows past it', () => {
    const { tail } = tailWithLog();
    tail.append('a'.repeat(outputTailCharsMax));
    tail.append('b'.repeat(100));
    tail.append('Address already in use\n');
    const text = tail.toString();
    expect(text).toHaveLength(outputTailCharsMax);
    expect(text.endsWith(`${'b'.repeat(100)}Address already in use\n`)).toBe(true);
    expect(text.startsWith('a')).toBe(true);
  });

  it('logs PANIC and FATAL lines and the signs of an unclean stop, each trimmed and prefixed', () => {
    const { tail, logged } = tailWithLog();
    tail.append('LOG:  starting PostgreSQL\n  FATAL:  lock file "postmaster.pid" already exists\n');
    tail.append('PANIC:  could not write to file\n');
    tail.append(
      'LOG:  database system was not properly shut down; automatic recovery in progress\n',
    );
    tail.append('LOG:  redo starts at 0/1000028\n');
    expect(logged).toEqual([
      'embedded postgres: FATAL:  lock file "postmaster.pid" already exists',
      'embedded postgres: PANIC:  could not write to file',
      'embedded postgres: LOG:  database system was not properly shut down; automatic recovery in progress',
    ]);
  });

  it('does not log ordinary LOG, ERROR or WARNING lines', () => {
    const { tail, logged } = tailWithLog();
    tail.append('LOG:  checkpoint starting: shutdown immediate\n');
    tail.append('ERROR:  relation "missing" does not exist\n');
    tail.append('WARNING:  there is no transaction in progress\n');
    tail.append('LOG:  the word FATAL alone is not a severity\n');
    expect(logged).toEqual([]);
  });
});
