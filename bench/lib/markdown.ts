// The reports' Markdown cells and rows (report.ts, erp-report.ts, window-report.ts,
// cluster-report.ts, timeline-report.ts). A leaf module: report.ts imports window-report.ts, so
// what both format with lives here.

/** A number with `digits` decimals; `missing` where there is none. */
export function fixed(value: number | null | undefined, digits: number, missing = 'n/a'): string {
  return value === null || value === undefined ? missing : value.toFixed(digits);
}

/** One row of a Markdown table. */
export function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}
