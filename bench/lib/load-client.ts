// What carries the bench generator's requests: its own client on a bare socket
// (raw-http-client.ts), or undici's Client, which it used until December 5. The load generator
// shares the box's cores with the system it measures, and undici costs it 1.4–1.8× the CPU per
// answer this client does (bench/README.md, "`--client`"), so the default is the lighter.
export type LoadClient = 'raw' | 'undici';
export const loadClients: readonly LoadClient[] = ['raw', 'undici'];
export const loadClientDefault: LoadClient = 'raw';
