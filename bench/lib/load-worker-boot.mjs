// piscina loads this file in each load-generator thread. On Node 20, tsx hooks only the main
// thread, so the thread registers tsx itself before importing the TypeScript task.
import { register } from 'tsx/esm/api';

register();
const task = await import('./load-worker.ts');

export default task.default;
