// Unknown-field check for Kubernetes manifests. kubernetes-models' validate() checks types and
// required fields but, like the OpenAPI schemas it is built from, lets unknown keys through, so a
// typo such as `readinesProbe` would validate and the probe would silently not exist. The field
// names come from the package's own type declarations (one interface per file, properties
// written as `"name"?: Type;`), so the check follows the same Kubernetes version as validate().
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

interface Field {
  readonly file: string | undefined; // the declaration file of an object-typed field
}

const require = createRequire(import.meta.url);
const shapes = new Map<string, Map<string, Field> | undefined>();

function importsOf(text: string, file: string): Map<string, string> {
  const imports = new Map<string, string>();
  for (const match of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const [, name, spec] = match as unknown as [string, string, string];
    const path = spec.startsWith('.')
      ? resolve(dirname(file), `${spec}.d.ts`)
      : require.resolve(spec).replace(/\.js$/, '.d.ts');
    imports.set(name, path);
  }
  return imports;
}

/** The fields of the interface declared in `file`, or undefined for a type alias (a leaf). */
function shapeOf(file: string): Map<string, Field> | undefined {
  if (shapes.has(file)) return shapes.get(file);
  const text = readFileSync(file, 'utf8');
  const head = /^export interface I\w+( extends TypeMeta)? \{$/m.exec(text);
  let shape: Map<string, Field> | undefined;
  if (head !== null) {
    const imports = importsOf(text, file);
    const body = text.slice(head.index, text.indexOf('\n}', head.index));
    shape = new Map<string, Field>();
    if (head[1] !== undefined) {
      shape.set('apiVersion', { file: undefined });
      shape.set('kind', { file: undefined });
    }
    // The type is an interface name, Array<name>, an inline map `{` or a union of literals.
    for (const match of body.matchAll(/^ {4}"([^"]+)"\??: (?:Array<)?(\w+)?/gm)) {
      const [, name, type] = match as unknown as [string, string, string | undefined];
      shape.set(name, { file: type === undefined ? undefined : imports.get(type) });
    }
  }
  shapes.set(file, shape);
  return shape;
}

function walk(value: unknown, file: string, path: string, problems: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(item, file, `${path}[${index}]`, problems));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const shape = shapeOf(file);
  if (shape === undefined) return;
  for (const [key, child] of Object.entries(value)) {
    const field = shape.get(key);
    if (field === undefined) problems.push(`${path}.${key}: unknown field`);
    else if (field.file !== undefined) walk(child, field.file, `${path}.${key}`, problems);
  }
}

/**
 * Paths of fields that the Kubernetes type (e.g. 'kubernetes-models/apps/v1/Deployment') does
 * not have, e.g. `spec.template.spec.containers[0].readinesProbe: unknown field`.
 */
export function unknownFields(model: string, manifest: unknown): string[] {
  const problems: string[] = [];
  const file = require.resolve(model).replace(/\.js$/, '.d.ts');
  // A declaration layout this parser does not know must fail loudly, not pass everything.
  if (shapeOf(file) === undefined) throw new Error(`no interface found in ${file}`);
  walk(manifest, file, '', problems);
  return problems.map((problem) => problem.replace(/^\./, ''));
}
