// The reservation id a micro-benchmark gives its n-th hold: shaped as the router's (36
// characters, hex groups), made from n alone so that runs repeat. The router's ids name their
// partition in the first 16 bits; nothing the micro-benchmarks drive reads that.
export function benchHoldId(n: number): string {
  return `${n.toString(16).padStart(8, '0')}-0000-8000-8000-000000000000`;
}
