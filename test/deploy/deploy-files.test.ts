// Proves that deploy/ is usable as written, without a Docker engine or a cluster, by checking the
// files as text and running what can run here: every YAML parses; the compose file's mounts,
// build and Prometheus/Grafana wiring point at files that exist, every service has a healthcheck
// and start order waits on health; every Kubernetes manifest validates against the official
// schemas (kubernetes-models) and has no unknown fields, with probes on /health/live and
// /health/ready and a grace period covering the drain; the cluster variants (k8s/cluster/, a
// StatefulSet, and docker-compose.cluster.yml) give every node LEDGER_CLUSTER=1, its own
// LEDGER_NODE_ID and the same journal and NATS, which the ledger's own config parser accepts, with
// budgets and selectors that fit together (grace period covering a hand-over, one PDB per pod,
// no pod-to-pod traffic); `promtool check rules` and
// `promtool test rules` pass (skipped without promtool unless LEDGER_REQUIRE_SERVICES=1); the
// dashboard's and the alerts' PromQL parses and names only metrics the ledger exports (API.md's
// list, the publisher-lag gauges, prom-client's default metrics); the Dockerfile is multi-stage,
// non-root, with a HEALTHCHECK whose command really tells 200 from 503; the k6 script parses and,
// run against stand-ins for the k6 modules, sends requests the API accepts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { drainTimeoutMs, eventsStopTimeoutMs } from '../../src/limits.js';
import { servicesRequired } from '../helpers/services.js';
import { unknownFields } from './k8s-fields.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deploy = join(root, 'deploy');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML/JSON is untyped
type Doc = any;
// Merge keys (`<<: *anchor`) as compose reads them; YAML 1.2 alone would keep `<<` as a key.
const yamlFile = (path: string): Doc => parse(read(path), { merge: true });

// The shutdown budget of a cluster node (src/main.ts, stopOnSignals), in seconds: the hand-over
// (a partition move under way ends, the node's writes finish, its partitions are snapshotted) is
// given 60 s, a figure allowed, not measured; then the request drain, the journal's stop (a
// stalled write times out after 10 s) and the event publisher's stop.
const clusterStopSeconds = 60 + drainTimeoutMs / 1000 + 10 + Math.ceil(eventsStopTimeoutMs / 1000);

/** Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME:?error} from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_all, name: string, op, arg: string) => {
    const set = vars[name];
    if (set !== undefined && set !== '') return set;
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return op === '-' ? arg : '';
  });
}

// ---------------------------------------------------------------------------------------------
// Metric names the ledger exports (API.md, "Operational endpoints"), and the ones it will.
const apiMetrics = [
  'inventory_reservation_attempts_total',
  'inventory_reservation_duration_seconds',
  'inventory_available_stock',
  'inventory_oversell_incidents_total',
  'ledger_journal_flush_duration_seconds',
  'ledger_journal_batch_size',
  'ledger_shard_queue_depth',
];
const apiHistograms = [
  'inventory_reservation_duration_seconds',
  'ledger_journal_flush_duration_seconds',
  'ledger_journal_batch_size',
];
const lagMetrics = ['ledger_event_publisher_lag_records', 'ledger_event_publisher_lag_seconds'];
// The checkout's own (v1.1): cart outcomes and latency, two-phase holds in doubt, splits.
const cartMetrics = [
  'inventory_cart_attempts_total',
  'inventory_cart_duration_seconds_bucket',
  'inventory_cart_duration_seconds_sum',
  'inventory_cart_duration_seconds_count',
  'ledger_cart_holds_in_doubt',
  'inventory_cart_allocation_splits_total',
];
// Stock sync (v1.1): import lines by result, events published by subject.
const stockSyncMetrics = ['inventory_stock_import_lines_total', 'inventory_events_published_total'];
// Movement history (v1.1): pages read from the journal, day tables dropped by retention.
const historyMetrics = [
  'ledger_history_queries_total',
  'ledger_history_query_duration_seconds_bucket',
  'ledger_history_query_duration_seconds_sum',
  'ledger_history_query_duration_seconds_count',
  'ledger_history_partitions_dropped_total',
];
// Lots (v1.1): units written off when a lot's day ended.
const lotMetrics = ['inventory_lot_units_written_off_total'];
// Series that Prometheus and its exporters make, which only the alert rules may use.
const alertOnlyMetrics = ['up', 'probe_success', 'kube_pod_container_status_ready'];

async function defaultMetricNames(): Promise<string[]> {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const metrics = await registry.getMetricsAsJSON();
  registry.clear();
  return metrics.flatMap((metric) =>
    String(metric.type) === 'histogram'
      ? ['_bucket', '_sum', '_count'].map((suffix) => metric.name + suffix)
      : [metric.name],
  );
}

const ledgerMetricNames = (): string[] => [
  ...apiMetrics.filter((name) => !apiHistograms.includes(name)),
  ...apiHistograms.flatMap((name) => ['_bucket', '_sum', '_count'].map((s) => name + s)),
  ...lagMetrics,
  ...cartMetrics,
  ...stockSyncMetrics,
  ...historyMetrics,
  ...lotMetrics,
];

const promqlKeywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const promqlWords = new Set([...promqlKeywords, 'bool', 'and', 'or', 'unless', 'offset']);

/** The metric names an expression selects: identifiers that are not functions or keywords. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice(match.index + match[0].length).trimStart();
    if (rest.startsWith('(') || promqlWords.has(match[0].toLowerCase())) continue;
    names.push(match[0]);
  }
  return names;
}

/** Grafana variables replaced so that the expression is plain PromQL. */
const plainPromql = (expr: string): string =>
  expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$\w+/g, '.*');

// ---------------------------------------------------------------------------------------------
// promtool (Debian's prometheus package); .ci/run installs it.
function findPromtool(): boolean {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (found.error === undefined && found.status === 0) return true;
  if (servicesRequired) {
    throw new Error('promtool is required (LEDGER_REQUIRE_SERVICES=1) but was not found');
  }
  return false;
}
const havePromtool = findPromtool();

function promtool(...args: string[]): string {
  const result = spawnSync('promtool', args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`promtool ${args.join(' ')} failed:\n${output}`);
  return output;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => join(dir, file));
}

describe('YAML', () => {
  it('every YAML file under deploy/ parses, every document of it', () => {
    const files = yamlFiles(deploy);
    expect(files.length).toBeGreaterThanOrEqual(12);
    for (const file of files) {
      const docs = parseAllDocuments(readFileSync(file, 'utf8'));
      for (const doc of docs) {
        expect(doc.errors.map((error) => `${file}: ${error.message}`)).toEqual([]);
        expect(doc.toJS(), file).toBeTypeOf('object');
      }
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = yamlFile('deploy/docker-compose.yml');
  const services = compose.services as Record<string, Doc>;

  it('runs the ledger with Postgres 16, NATS with JetStream, Prometheus and Grafana', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['ledger', 'postgres', 'nats', 'prometheus', 'grafana']),
    );
    expect(services.postgres.image).toMatch(/^postgres:16\b/);
    expect(services.nats.command).toContain('-js');
  });

  it('gives every service a healthcheck and orders start-up on health', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      for (const [dependency, condition] of Object.entries(service.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        expect((condition as Doc).condition).toMatch(/^service_(healthy|started)$/);
      }
    }
    expect(services.ledger.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      nats: { condition: 'service_healthy' },
    });
    expect(services.grafana.depends_on.prometheus.condition).toBe('service_healthy');
    expect(services.prometheus.depends_on.blackbox.condition).toBe('service_healthy');
  });

  it('builds from deploy/Dockerfile with the repository as context', () => {
    const context = resolve(deploy, services.ledger.build.context);
    expect(context).toBe(resolve(root));
    expect(existsSync(join(context, services.ledger.build.dockerfile))).toBe(true);
  });

  it('mounts only files that exist', () => {
    const mounts = Object.values(services).flatMap((service: Doc) =>
      (service.volumes ?? []).filter((volume: string) => volume.startsWith('.')),
    );
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const mount of mounts) {
      const source = (mount as string).split(':')[0] as string;
      expect(existsSync(resolve(deploy, source)), mount).toBe(true);
    }
  });

  it('configures the ledger for a container: real Postgres, all interfaces, auth on', () => {
    const env = services.ledger.environment;
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.LEDGER_AUTH).toBeUndefined();
    // From the environment, required: compose refuses to start the stack without it.
    expect(env.LEDGER_JWT_SECRET).toMatch(/^\$\{LEDGER_JWT_SECRET:\?[^}]+\}$/);
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(env.NATS_URL).toBe('nats://nats:4222');
    for (const service of Object.values(services) as Doc[]) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^'?127\.0\.0\.1:/);
    }
  });

  it('wires Prometheus to the ledger, the readiness probe and the alert rules', () => {
    const config = yamlFile('deploy/prometheus/prometheus.yml');
    const jobs = new Map<string, Doc>(config.scrape_configs.map((job: Doc) => [job.job_name, job]));
    expect(jobs.get('ledger').static_configs[0].targets).toEqual(['ledger:8080']);
    expect(jobs.get('ledger-ready').static_configs[0].targets).toEqual([
      'http://ledger:8080/health/ready',
    ]);
    const mounts: string[] = services.prometheus.volumes;
    const configMount = mounts.find((m) => m.startsWith('./prometheus/prometheus.yml:'));
    const configPath = (configMount as string).split(':')[1] as string;
    for (const rules of config.rule_files as string[]) {
      // Relative rule files resolve against the config file, locally and in the container.
      expect(existsSync(join(deploy, 'prometheus', rules)), rules).toBe(true);
      const inContainer = posix.resolve(posix.dirname(configPath), rules);
      expect(
        mounts.some((m) => m.split(':')[1] === inContainer),
        inContainer,
      ).toBe(true);
    }
  });

  it('provisions Grafana with the Prometheus datasource and the dashboard folder', () => {
    const datasource = yamlFile('deploy/grafana/provisioning/datasources/prometheus.yml');
    expect(datasource.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
    });
    const provider = yamlFile('deploy/grafana/provisioning/dashboards/ledger.yml').providers[0];
    const mounts: string[] = services.grafana.volumes;
    expect(mounts).toContain(`./grafana/dashboards:${provider.options.path}:ro`);
    expect(mounts).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});

describe('docker-compose.cluster.yml', () => {
  const compose = yamlFile('deploy/docker-compose.cluster.yml');
  const services = compose.services as Record<string, Doc>;
  const nodes = Object.entries(services).filter(([name]) => name.startsWith('ledger-'));
  const vars = { LEDGER_JWT_SECRET: 'k'.repeat(48) };
  const envOf = (service: Doc): Record<string, string> =>
    Object.fromEntries(
      Object.entries(service.environment as Record<string, string>).map(([key, value]) => [
        key,
        interpolate(String(value), vars),
      ]),
    );

  it('runs three ledger nodes on one Postgres 16 and one NATS with JetStream', () => {
    expect(Object.keys(services).sort()).toEqual([
      'ledger-1',
      'ledger-2',
      'ledger-3',
      'nats',
      'postgres',
    ]);
    expect(services.postgres.image).toMatch(/^postgres:16\b/);
    expect(services.nats.command).toContain('-js');
    // Its own project, so its own volumes: never the single ledger's journal.
    expect(compose.name).not.toBe(yamlFile('deploy/docker-compose.yml').name);
  });

  it('gives every service a healthcheck and starts the nodes once Postgres and NATS are healthy', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
    for (const [name, node] of nodes) {
      expect(node.depends_on, name).toEqual({
        postgres: { condition: 'service_healthy' },
        nats: { condition: 'service_healthy' },
      });
      expect(node.healthcheck.test.join(' '), name).toMatch(/\/health\/ready/);
    }
  });

  it('makes each node a cluster node with its own id, on the same journal and NATS', () => {
    const parsed = nodes.map(([name, node]) => {
      const env = envOf(node);
      expect(env.LEDGER_CLUSTER, name).toBe('1');
      expect(env.DATABASE_URL, name).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      // The ledger's own parser: HOST 0.0.0.0 is accepted because auth is on.
      return { env, config: loadConfig(env) };
    });
    const ids = parsed.map(({ config }) => config.cluster?.nodeId);
    expect(ids).toEqual(['ledger-1', 'ledger-2', 'ledger-3']);
    expect(new Set(parsed.map(({ config }) => config.databaseUrl)).size).toBe(1);
    expect(new Set(parsed.map(({ config }) => config.natsUrl))).toEqual(
      new Set(['nats://nats:4222']),
    );
    for (const { env, config } of parsed) {
      expect(config.host).toBe('0.0.0.0');
      expect(config.cluster?.leaseSeconds).toBe(5);
      expect(env.LEDGER_JWT_SECRET).toBe(vars.LEDGER_JWT_SECRET);
    }
    // Required from the environment: compose refuses to start the stack without it.
    for (const [, node] of nodes) {
      expect(node.environment.LEDGER_JWT_SECRET).toMatch(/^\$\{LEDGER_JWT_SECRET:\?[^}]+\}$/);
    }
  });

  it('publishes each node on its own port, on 127.0.0.1 only', () => {
    const hostPorts = nodes.map(([name, node]) => {
      expect(node.ports, name).toHaveLength(1);
      const match = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(node.ports[0]);
      expect(match, name).not.toBeNull();
      expect((match as RegExpExecArray)[2]).toBe(node.environment.PORT);
      return (match as RegExpExecArray)[1];
    });
    expect(new Set(hostPorts).size).toBe(nodes.length);
    for (const service of Object.values(services) as Doc[]) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('builds every node from deploy/Dockerfile, hardened as the single ledger', () => {
    const single = yamlFile('deploy/docker-compose.yml').services.ledger;
    for (const [name, node] of nodes) {
      expect(resolve(deploy, node.build.context), name).toBe(resolve(root));
      expect(existsSync(join(root, node.build.dockerfile)), name).toBe(true);
      expect(node.image).toBe(single.image);
      for (const key of ['read_only', 'tmpfs', 'security_opt', 'cap_drop', 'stop_signal']) {
        expect(node[key], `${name} ${key}`).toEqual(single[key]);
      }
    }
  });

  it('gives a node the time to hand its partitions over before SIGKILL', () => {
    for (const [name, node] of nodes) {
      const seconds = /^(\d+)s$/.exec(node.stop_grace_period);
      expect(seconds, name).not.toBeNull();
      expect(Number((seconds as RegExpExecArray)[1]), name).toBeGreaterThanOrEqual(
        clusterStopSeconds,
      );
    }
  });

  it("lets Postgres take every node's connections (2 x SHARDS + 8, and the lease's)", () => {
    const command = services.postgres.command as string[];
    const max = Number(command.find((arg) => arg.startsWith('max_connections='))?.split('=')[1]);
    const needed = nodes
      .map(([, node]) => 2 * Number(node.environment.SHARDS) + 9)
      .reduce((a, b) => a + b, 0);
    expect(max).toBeGreaterThanOrEqual(needed);
  });

  it("each node's healthcheck tells 200 from 503", async () => {
    for (const [, node] of nodes) {
      const command = (node.healthcheck.test as string[]).slice(1);
      expect(await healthcheckExit(command, 200)).toBe(0);
      expect(await healthcheckExit(command, 503)).toBe(1);
    }
  });
});

// ---------------------------------------------------------------------------------------------
const models: Record<string, string> = {
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
};

interface Validatable {
  validate(): void;
}

async function validateManifest(manifest: Doc): Promise<void> {
  const model = models[`${manifest.apiVersion}/${manifest.kind}`];
  if (model === undefined) throw new Error(`no model for ${manifest.apiVersion} ${manifest.kind}`);
  const module = (await import(model)) as Record<string, new (data: Doc) => Validatable>;
  const Model = module[manifest.kind as string] as new (data: Doc) => Validatable;
  new Model(manifest).validate();
  expect(unknownFields(model, manifest), `${manifest.kind} ${manifest.metadata.name}`).toEqual([]);
}

const manifestsOf = (files: string[]): Doc[] =>
  files.flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => doc.toJS()));
// Every manifest, the cluster's too; the single node's set is the top folder (what
// `kubectl apply -f deploy/k8s/` applies: it does not descend into cluster/).
const allManifests: Doc[] = manifestsOf(yamlFiles(join(deploy, 'k8s')));
const singleManifests: Doc[] = manifestsOf(
  readdirSync(join(deploy, 'k8s'))
    .filter((file) => /\.ya?ml$/.test(file))
    .map((file) => join(deploy, 'k8s', file)),
);
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('Kubernetes manifests', () => {
  const manifests = singleManifests;
  const find = (kind: string, name: string): Doc =>
    manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const deployment = find('Deployment', 'inventory-ledger');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];

  it('all validate against the Kubernetes schemas, with no unknown fields', async () => {
    expect(manifests.length).toBeGreaterThanOrEqual(7);
    expect(allManifests.length).toBeGreaterThanOrEqual(manifests.length + 5);
    for (const manifest of allManifests) await validateManifest(manifest);
  });

  it('the validators do reject mistakes (so the check above is not vacuous)', async () => {
    const wrongType = structuredClone(deployment);
    wrongType.spec.replicas = 'one';
    await expect(validateManifest(wrongType)).rejects.toThrow(/replicas/);
    const typo = structuredClone(deployment);
    typo.spec.template.spec.containers[0].readinesProbe = container.readinessProbe;
    expect(unknownFields(models['apps/v1/Deployment'] as string, typo)).toEqual([
      'spec.template.spec.containers[0].readinesProbe: unknown field',
    ]);
  });

  it('probe liveness on /health/live and readiness on /health/ready, on the served port', () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });

  it('run one replica, replaced (not rolled), with a grace period covering the drain', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(container.env.map((e: Doc) => e.name)).not.toContain('LEDGER_CLUSTER');
    expect(deployment.spec.strategy.type).toBe('Recreate');
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const journalStopSeconds = 10; // a stalled journal write times out after 10 s
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      Number(preStop[1]) + drainTimeoutMs / 1000 + journalStopSeconds,
    );
  });

  it('are hardened: non-root, read-only root, no capabilities, no token', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.resources.requests.cpu).toBe('2');
    expect(container.resources.limits.cpu).toBe('2');
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('take DATABASE_URL and the JWT secret from Secret references and carry no Secret', () => {
    expect(container.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'ledger-database', key: 'url' } },
    });
    expect(container.env).toContainEqual({
      name: 'LEDGER_JWT_SECRET',
      valueFrom: { secretKeyRef: { name: 'ledger-jwt', key: 'secret' } },
    });
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    const configName = container.envFrom[0].configMapRef.name;
    const config = find('ConfigMap', configName).data;
    expect(config).toMatchObject({ HOST: '0.0.0.0', PORT: '8080' });
    expect(config.LEDGER_AUTH).toBeUndefined();
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.LEDGER_JWT_SECRET).toBeUndefined();
  });

  it("give node one V8 helper thread for the limit's 2 CPUs, in a form NODE_OPTIONS accepts", () => {
    const config = find('ConfigMap', container.envFrom[0].configMapRef.name).data;
    expect(container.resources.limits.cpu).toBe('2');
    expect(config.NODE_OPTIONS).toBe('--v8-pool-size=1');
    expect(container.env.find((entry: Doc) => entry.name === 'NODE_OPTIONS')).toBeUndefined();
    // Node refuses a flag it does not allow in NODE_OPTIONS (--single-threaded-gc is one) and
    // exits 9 before running anything; the pod would never start.
    const started = spawnSync(process.execPath, ['-e', 'process.stdout.write("ran")'], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: config.NODE_OPTIONS },
      encoding: 'utf8',
    });
    expect(started.stderr).toBe('');
    expect([started.status, started.stdout]).toEqual([0, 'ran']);
    const refused = spawnSync(process.execPath, ['-e', '0'], {
      env: { PATH: process.env.PATH, NODE_OPTIONS: '--single-threaded-gc' },
      encoding: 'utf8',
    });
    expect(refused.status).not.toBe(0);
  });

  it('select the ledger pods from the Service, the PDB and the NetworkPolicy', () => {
    const labels = deployment.spec.template.metadata.labels;
    const ours = (selector: Record<string, string>): boolean => selects(selector, labels);
    expect(ours(find('Service', 'inventory-ledger').spec.selector)).toBe(true);
    const pdb = find('PodDisruptionBudget', 'inventory-ledger');
    expect(ours(pdb.spec.selector.matchLabels)).toBe(true);
    expect(ours(find('NetworkPolicy', 'inventory-ledger').spec.podSelector.matchLabels)).toBe(true);
    expect(find('Service', 'inventory-ledger').spec.ports[0].targetPort).toBe('http');
    expect(find('Service', 'ledger-postgres').spec.type).toBe('ExternalName');
    expect(find('Service', 'ledger-nats').spec.type).toBe('ExternalName');
    expect(find('ServiceAccount', pod.serviceAccountName)).toBeDefined();
  });
});

describe('Kubernetes manifests, cluster (k8s/cluster/)', () => {
  const clusterDir = join(deploy, 'k8s', 'cluster');
  const own: Doc[] = manifestsOf(yamlFiles(clusterDir));
  // What the cluster's apply command takes from the top folder (deploy/README.md).
  const shared = singleManifests.filter(
    (m) => ['ConfigMap', 'ServiceAccount'].includes(m.kind) || m.spec?.type === 'ExternalName',
  );
  const manifests = [...own, ...shared];
  const find = (kind: string, name: string): Doc =>
    manifests.find((m) => m.kind === kind && m.metadata.name === name);
  const statefulSet = find('StatefulSet', 'inventory-ledger');
  const labels: Record<string, string> = statefulSet.spec.template.metadata.labels;
  const pod = statefulSet.spec.template.spec;
  const container = pod.containers[0];
  const env = (name: string): Doc => container.env.find((e: Doc) => e.name === name);
  const single = singleManifests.find((m) => m.kind === 'Deployment');
  const singleLabels: Record<string, string> = single.spec.template.metadata.labels;

  it('holds a StatefulSet, its two Services, a PDB and a NetworkPolicy, all valid', async () => {
    expect(own.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'NetworkPolicy/inventory-ledger-cluster',
      'PodDisruptionBudget/inventory-ledger-cluster',
      'Service/inventory-ledger',
      'Service/inventory-ledger-nodes',
      'StatefulSet/inventory-ledger',
    ]);
    for (const manifest of own) await validateManifest(manifest);
    expect(own.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  it("gives each node the shared ConfigMap's one V8 helper, for the same 2-CPU limit", () => {
    const config = find('ConfigMap', container.envFrom[0].configMapRef.name).data;
    expect(container.resources.limits.cpu).toBe('2');
    expect(config.NODE_OPTIONS).toBe('--v8-pool-size=1');
    // Nothing of the pod's own env overrides it.
    expect(env('NODE_OPTIONS')).toBeUndefined();
  });

  it('runs three nodes started together, rolled one at a time, each ready a while first', () => {
    expect(statefulSet.spec.replicas).toBe(3);
    expect(statefulSet.spec.podManagementPolicy).toBe('Parallel');
    expect(statefulSet.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { partition: 0 },
    });
    expect(statefulSet.spec.minReadySeconds).toBeGreaterThan(0);
    expect(selects(statefulSet.spec.selector.matchLabels, labels)).toBe(true);
    expect(pod.volumes.every((volume: Doc) => volume.emptyDir !== undefined)).toBe(true);
    expect(statefulSet.spec.volumeClaimTemplates).toBeUndefined();
  });

  it('names each node after its pod and makes it a cluster node, as the config parser reads it', () => {
    expect(env('LEDGER_CLUSTER')).toEqual({ name: 'LEDGER_CLUSTER', value: '1' });
    expect(env('LEDGER_NODE_ID')).toEqual({
      name: 'LEDGER_NODE_ID',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    // The pod's environment as the kubelet builds it: the ConfigMap, then env, with the Secrets
    // and the downward API filled in.
    const configName = container.envFrom[0].configMapRef.name;
    const config: Record<string, string> = find('ConfigMap', configName).data;
    const podEnv = (ordinal: number): Record<string, string> => {
      const values: Record<string, string> = { ...config };
      for (const entry of container.env as Doc[]) {
        if (entry.value !== undefined) values[entry.name] = entry.value;
        else if (entry.valueFrom.fieldRef?.fieldPath === 'metadata.name') {
          values[entry.name] = `${statefulSet.metadata.name}-${ordinal}`;
        } else if (entry.valueFrom.secretKeyRef?.name === 'ledger-database') {
          values[entry.name] = 'postgres://ledger:secret@ledger-postgres:5432/ledger';
        } else if (entry.valueFrom.secretKeyRef?.name === 'ledger-jwt') {
          values[entry.name] = 'k'.repeat(48);
        } else throw new Error(`unexpected env ${entry.name}`);
      }
      return values;
    };
    const ids = Array.from({ length: statefulSet.spec.replicas as number }, (_, ordinal) => {
      const parsed = loadConfig(podEnv(ordinal));
      expect(parsed.host).toBe('0.0.0.0');
      expect(parsed.natsUrl).toBe('nats://ledger-nats:4222');
      expect(parsed.cluster?.leaseSeconds).toBe(5);
      return parsed.cluster?.nodeId;
    });
    expect(ids).toEqual(['inventory-ledger-0', 'inventory-ledger-1', 'inventory-ledger-2']);
    // Auth is what lets it listen on 0.0.0.0: without the secret the parser refuses the pod.
    const { LEDGER_JWT_SECRET: _secret, ...unauthenticated } = podEnv(0);
    expect(() => loadConfig(unauthenticated)).toThrow(/HOST/);
    // The shared ConfigMap never makes the single node a cluster node.
    expect(Object.keys(config).filter((key) => /CLUSTER|NODE_ID|LEASE/.test(key))).toEqual([]);
  });

  it('take DATABASE_URL and the JWT secret from the same Secrets as the single node', () => {
    const singleEnv: Doc[] = single.spec.template.spec.containers[0].env;
    for (const name of ['DATABASE_URL', 'LEDGER_JWT_SECRET']) {
      expect(env(name), name).toEqual(singleEnv.find((e) => e.name === name));
      expect(env(name).valueFrom.secretKeyRef, name).toBeDefined();
    }
    expect(find('ServiceAccount', pod.serviceAccountName)).toBeDefined();
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('probe readiness on /health/ready and liveness on /health/live, hardened as the single node', () => {
    const singlePod = single.spec.template.spec;
    const singleContainer = singlePod.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.ports).toEqual(singleContainer.ports);
    expect(container.securityContext).toEqual(singleContainer.securityContext);
    expect(container.resources).toEqual(singleContainer.resources);
    expect(container.volumeMounts).toEqual(singleContainer.volumeMounts);
    expect(pod.securityContext).toEqual(singlePod.securityContext);
    expect(statefulSet.spec.template.metadata.annotations).toEqual(
      single.spec.template.metadata.annotations,
    );
  });

  it('give a node the time to hand its partitions over before SIGKILL', () => {
    const preStop = container.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      Number(preStop[1]) + clusterStopSeconds,
    );
  });

  it('keep nodes on different machines', () => {
    const [rule, ...more] =
      pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    expect(more).toEqual([]);
    expect(rule.topologyKey).toBe('kubernetes.io/hostname');
    expect(selects(rule.labelSelector.matchLabels, labels)).toBe(true);
    for (const spread of pod.topologySpreadConstraints) {
      expect(selects(spread.labelSelector.matchLabels, labels)).toBe(true);
    }
  });

  it("select the nodes from the Services, the PDB and the NetworkPolicy, never the single node's", () => {
    const client = find('Service', 'inventory-ledger');
    const headless = find('Service', statefulSet.spec.serviceName);
    const pdb = find('PodDisruptionBudget', 'inventory-ledger-cluster');
    const policy = find('NetworkPolicy', 'inventory-ledger-cluster');
    const selectors = [
      client.spec.selector,
      headless.spec.selector,
      pdb.spec.selector.matchLabels,
      policy.spec.podSelector.matchLabels,
    ];
    for (const selector of selectors) {
      expect(selects(selector, labels)).toBe(true);
      expect(selects(selector, singleLabels)).toBe(false);
    }
    // A pod under two budgets cannot be evicted: the single node's PDB must miss these pods.
    for (const budget of singleManifests.filter((m) => m.kind === 'PodDisruptionBudget')) {
      expect(selects(budget.spec.selector.matchLabels, labels)).toBe(false);
    }
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeUndefined();
    expect(headless.spec.clusterIP).toBe('None');
    expect(client.spec.type).toBe('ClusterIP');
    expect(client.spec.ports).toEqual([
      { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
    ]);
  });

  it('let nodes reach DNS, Postgres and NATS, and nothing reach a node but clients and Prometheus', () => {
    const policy = find('NetworkPolicy', 'inventory-ledger-cluster');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const egress = (policy.spec.egress as Doc[]).flatMap((rule) => {
      expect(rule.to, 'egress by port, to any destination').toBeUndefined();
      return rule.ports.map((port: Doc) => `${port.protocol}/${port.port}`);
    });
    expect(egress.sort()).toEqual(['TCP/4222', 'TCP/53', 'TCP/5432', 'UDP/53']);
    expect(find('Service', 'ledger-postgres').spec.ports[0].port).toBe(5432);
    expect(find('Service', 'ledger-nats').spec.ports[0].port).toBe(4222);
    for (const rule of policy.spec.ingress as Doc[]) {
      expect(rule.ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
      for (const peer of rule.from as Doc[]) {
        // Nodes talk through NATS: no ingress peer is a ledger pod.
        const podLabels = peer.podSelector?.matchLabels;
        if (podLabels !== undefined) expect(selects(podLabels, labels)).toBe(false);
        expect(peer.ipBlock).toBeUndefined();
      }
    }
  });

  it("deploy/README.md's apply command names files that exist and everything the nodes need", () => {
    const readme = read('deploy/README.md');
    const start = readme.indexOf('### Cluster on Kubernetes');
    expect(start).toBeGreaterThan(-1);
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const paths = [
      ...new Set([...section.matchAll(/-f (deploy\/k8s\/[\w./-]+)/g)].map((m) => m[1] as string)),
    ];
    for (const path of paths) expect(existsSync(join(root, path)), path).toBe(true);
    expect(paths.sort()).toEqual([
      'deploy/k8s/cluster/',
      'deploy/k8s/configmap.yaml',
      'deploy/k8s/external-services.yaml',
      'deploy/k8s/serviceaccount.yaml',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('Prometheus rules', () => {
  const rules: Doc[] = yamlFile('deploy/prometheus/alerts.yml').groups.flatMap(
    (group: Doc) => group.rules,
  );

  it('cover oversell, latency, errors, flush, publisher lag and readiness', () => {
    expect(rules.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        'LedgerOversellIncident',
        'LedgerReserveLatencyP99High',
        'LedgerReserveErrorRateHigh',
        'LedgerJournalFlushLatencyHigh',
        'LedgerEventPublisherLagRecords',
        'LedgerEventPublisherLagSeconds',
        'LedgerDown',
        'LedgerNotReady',
      ]),
    );
    const oversell = rules.find((rule) => rule.alert === 'LedgerOversellIncident');
    expect(oversell.for).toBe('0m');
    expect(oversell.labels.severity).toBe('critical');
    const latency = rules.find((rule) => rule.alert === 'LedgerReserveLatencyP99High');
    expect(latency.expr).toMatch(/inventory_reservation_duration_seconds_bucket/);
    expect(latency.expr).toMatch(/> 0\.12$/);
    expect(latency.for).toBe('5m');
  });

  it('give every alert a severity, a summary and a description', () => {
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });

  it('name only metrics that exist', async () => {
    const known = new Set([...ledgerMetricNames(), ...(await defaultMetricNames())]);
    for (const name of alertOnlyMetrics) known.add(name);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `${rule.alert}: ${name}`).toBe(true);
    }
  });

  it.skipIf(!havePromtool)('pass promtool check rules and promtool test rules', () => {
    expect(promtool('check', 'rules', 'deploy/prometheus/alerts.yml')).toMatch(/SUCCESS/);
    expect(promtool('test', 'rules', 'deploy/prometheus/alerts.test.yml')).toMatch(/SUCCESS/);
    expect(promtool('check', 'config', 'deploy/prometheus/prometheus.yml')).toMatch(/SUCCESS/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/ledger.json'));
  const panels: Doc[] = dashboard.panels.filter((panel: Doc) => panel.type !== 'row');
  const exprs: string[] = panels.flatMap((panel) => panel.targets.map((t: Doc) => t.expr));
  const variableQueries: string[] = dashboard.templating.list
    .filter((variable: Doc) => variable.type === 'query')
    .map((variable: Doc) => variable.query.query);

  it('loads as a dashboard with panels that all query Prometheus', () => {
    expect(dashboard.uid).toBe('inventory-ledger');
    expect(panels.length).toBeGreaterThanOrEqual(12);
    const ids = dashboard.panels.map((panel: Doc) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      for (const target of panel.targets) expect(target.expr, panel.title).toBeTruthy();
    }
  });

  it('shows every metric the ledger exports and the publisher lag', () => {
    const shown = new Set(exprs.flatMap(metricNames));
    const wanted = apiMetrics.map((name) =>
      apiHistograms.includes(name) ? `${name}_bucket` : name,
    );
    for (const name of [...wanted, ...lagMetrics]) expect(shown.has(name), name).toBe(true);
  });

  it('queries only metrics in API.md, the publisher lag, or default process metrics', async () => {
    const known = new Set([...ledgerMetricNames(), ...(await defaultMetricNames())]);
    const variableMetrics = variableQueries.map((query) => {
      const match = /^label_values\(([^,]+),\s*\w+\)$/.exec(query);
      expect(match, query).not.toBeNull();
      return (match as RegExpExecArray)[1] as string;
    });
    for (const expr of [...exprs, ...variableMetrics]) {
      const names = metricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `${name} in ${expr}`).toBe(true);
    }
  });

  it('keeps its list of API metrics equal to API.md when API.md is beside the repo', () => {
    const apiPath = join(root, '..', 'shared', 'API.md');
    if (!existsSync(apiPath)) return;
    const api = readFileSync(apiPath, 'utf8');
    const section = api.slice(api.indexOf('## Operational endpoints'), api.indexOf('## Events'));
    const named = [...section.matchAll(/`((?:inventory|ledger)_\w+)/g)].map((m) => m[1]);
    expect(new Set(named)).toEqual(new Set(apiMetrics));
  });

  it.skipIf(!havePromtool)('has PromQL that promtool parses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-dashboard-'));
    try {
      const rules = [
        ...exprs,
        ...variableQueries.map((q) => q.replace(/^label_values\((.+),\s*\w+\)$/, '$1')),
      ]
        .map(
          (expr, i) => `      - record: dashboard:query_${i}\n        expr: '${plainPromql(expr)}'`,
        )
        .join('\n');
      const file = join(dir, 'dashboard-rules.yml');
      writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      expect(promtool('check', 'rules', file)).toMatch(/SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions (continuations joined, comments dropped), grouped by stage. */
function dockerStages(text: string): Instruction[][] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const match = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (match === null) throw new Error(`not an instruction: ${line}`);
    const instruction = { keyword: match[1] as string, args: (match[2] as string).trim() };
    if (instruction.keyword === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

/** Runs a health-check command against a server answering `status` to every request. */
async function healthcheckExit(command: string[], status: number): Promise<number | null> {
  const server: Server = createServer((_request, response) => response.writeHead(status).end());
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  try {
    const [program, ...args] = command.map((arg) => arg.replace(':8080', `:${port}`));
    return await new Promise((done) => {
      spawn(program === 'node' ? process.execPath : (program as string), args, {
        env: { ...process.env, PORT: String(port) },
        stdio: 'ignore',
      }).on('exit', (code) => done(code));
    });
  } finally {
    server.close();
  }
}

describe('Dockerfile', () => {
  const text = read('deploy/Dockerfile');
  const stages = dockerStages(text);
  const runtime = stages.at(-1) as Instruction[];
  const last = (keyword: string): string =>
    (runtime.filter((i) => i.keyword === keyword).at(-1) as Instruction).args;

  it('builds in stages on Debian (glibc for uWebSockets.js), production deps from the lock', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    for (const stage of stages) expect(stage[0]?.args).toMatch(/^\$\{NODE_IMAGE\} AS \w+$/);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/COPY package\.json package-lock\.json/);
    expect(last('CMD')).toBe('["node", "dist/src/main.js"]');
  });

  it('runs as a non-root numeric user, on 8080, stopping on SIGTERM', () => {
    const user = last('USER');
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const k8sUser = yamlFile('deploy/k8s/deployment.yaml').spec.template.spec.securityContext;
    expect(user.split(':')[0]).toBe(String(k8sUser.runAsUser));
    expect(last('EXPOSE')).toBe('8080');
    expect(last('STOPSIGNAL')).toBe('SIGTERM');
    const env = runtime
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/HOST=0\.0\.0\.0/);
    // Auth stays on: without a JWT key the ledger refuses 0.0.0.0 (deploy/podman/smoke.sh).
    expect(env).not.toMatch(/LEDGER_AUTH/);
  });

  it('sends the build only what it copies (Dockerfile.dockerignore)', () => {
    const allowed = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/\*\*$/, ''));
    const sources = stages
      .flat()
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(root, source)), source).toBe(true);
      expect(allowed, source).toContain(source.replace(/\/$/, ''));
    }
  });

  it('has a HEALTHCHECK on /health/live that passes on 200 and fails on 503', async () => {
    const healthcheck = last('HEALTHCHECK');
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[];
    expect(command.join(' ')).toMatch(/\/health\/live/);
    expect(await healthcheckExit(command, 200)).toBe(0);
    expect(await healthcheckExit(command, 503)).toBe(1);
  });

  it("compose's ledger healthcheck on /health/ready does the same", async () => {
    const compose = yamlFile('deploy/docker-compose.yml');
    const command = (compose.services.ledger.healthcheck.test as string[]).slice(1);
    expect(command.join(' ')).toMatch(/\/health\/ready/);
    expect(await healthcheckExit(command, 200)).toBe(0);
    expect(await healthcheckExit(command, 503)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
interface Sent {
  readonly url: string;
  readonly body: Doc;
  readonly params: Doc;
}

describe('k6 hot-SKU script', () => {
  const path = join(deploy, 'k6', 'hot-sku.js');
  const source = readFileSync(path, 'utf8');
  const sent: Sent[] = [];
  let dir: string;
  let script: Doc;

  beforeAll(async () => {
    // The k6 modules exist only inside k6: replace the imports with stand-ins on globalThis.
    const stubbed = source.replace(
      /^import (\w+|\{[^}]+\}) from '(k6(?:\/\w+)?)';$/gm,
      (_line, names: string, module: string) =>
        `const ${names} = globalThis.__k6['${module}']${/^\w+$/.test(names) ? '.default' : ''};`,
    );
    expect(stubbed).not.toMatch(/^import /m);
    const globals = globalThis as Doc;
    globals.__ENV = { BASE_URL: 'http://ledger.test:8080/', RATE: '100', DURATION: '30s' };
    globals.__VU = 1;
    globals.__ITER = 0;
    globals.__k6 = {
      'k6/http': {
        default: {
          post: (url: string, body: string, params: Doc) => {
            sent.push({ url, body: JSON.parse(body), params });
            return { status: 200, body: '{}', json: () => 'PENDING' };
          },
        },
      },
      k6: {
        check: (value: Doc, checks: Record<string, (v: Doc) => boolean>) => {
          return Object.values(checks).every((fn) => fn(value));
        },
      },
      'k6/metrics': {
        Rate: class {
          add(): void {}
        },
      },
    };
    dir = mkdtempSync(join(tmpdir(), 'ledger-k6-'));
    const file = join(dir, 'hot-sku.mjs');
    writeFileSync(file, stubbed);
    script = await import(pathToFileURL(file).href);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    const globals = globalThis as Doc;
    for (const name of ['__ENV', '__VU', '__ITER', '__k6']) delete globals[name];
  });

  it('parses as an ES module and sets the latency and error thresholds', () => {
    execFileSync(process.execPath, ['--input-type=module', '--check'], { input: source });
    expect(source).toMatch(/^export default function/m);
    expect(source).toMatch(/^export function setup\(\)/m);
    expect(source).toMatch(/__ENV\.BASE_URL/);
    expect(script.options.thresholds['http_req_duration{name:reserve}']).toEqual(['p(99)<120']);
    expect(script.options.thresholds.reserve_errors).toContain('rate<0.01');
    expect(script.options.scenarios.hot_sku.executor).toBe('constant-arrival-rate');
  });

  it('stocks one key in setup and reserves it with unique, valid idempotency keys', () => {
    const data = script.setup();
    const adjust = sent.shift() as Sent;
    expect(adjust.url).toBe('http://ledger.test:8080/v1/stock/adjust');
    expect(adjust.body).toMatchObject({ ...data.key, delta: 100 * 30 * 2 });
    expect(adjust.body.idempotency_key).toMatch(/^[\x20-\x7e]{16,128}$/);
    const globals = globalThis as Doc;
    for (let vu = 1; vu <= 3; vu += 1) {
      for (let iteration = 0; iteration < 4; iteration += 1) {
        globals.__VU = vu;
        globals.__ITER = iteration;
        script.default(data);
      }
    }
    expect(sent).toHaveLength(12);
    const keys = new Set(sent.map((request) => request.body.idempotency_key));
    expect(keys.size).toBe(12);
    for (const request of sent) {
      expect(request.url).toBe('http://ledger.test:8080/v1/reserve');
      expect(request.params.tags.name).toBe('reserve');
      expect(request.body).toMatchObject({ ...data.key, quantity: 1 });
      expect(request.body.product_id).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
      expect(request.body.idempotency_key).toMatch(/^[\x20-\x7e]{16,128}$/);
    }
  });
});
