// The Redis for the redis-lua baseline: the local one on 127.0.0.1:6379 if it answers PING,
// else a throwaway `redis-server` without persistence on a free port, stopped by its PID.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

const localRedisUrl = 'redis://127.0.0.1:6379';
const pingTimeoutMs = 1000;
const startTimeoutMs = 10_000;
const startPollMs = 100;

export interface RedisForBench {
  readonly url: string;
  /** True when the bench started this Redis (and stop() stops it). */
  readonly started: boolean;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

async function answersPing(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: pingTimeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch (error) {
    void error;
    return false;
  } finally {
    redis.disconnect();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function redisForBench(): Promise<RedisForBench> {
  if (await answersPing(localRedisUrl)) {
    return { url: localRedisUrl, started: false, pid: undefined, stop: () => Promise.resolve() };
  }
  return startRedisServer();
}

/** A `redis-server` without persistence (no RDB, no AOF) on a free loopback port. */
export async function startRedisServer(): Promise<RedisForBench> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start redis-server (is it installed?)');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, 'SIGTERM');
    await exited;
  };
  const url = `redis://127.0.0.1:${port}`;
  const deadlineMs = Date.now() + startTimeoutMs;
  while (!(await answersPing(url))) {
    if (Date.now() > deadlineMs || child.exitCode !== null) {
      await stop();
      throw new Error(`redis-server on port ${port} did not answer PING`);
    }
    await new Promise((resolve) => setTimeout(resolve, startPollMs));
  }
  return { url, started: true, pid, stop };
}
