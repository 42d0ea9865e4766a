// Epoch milliseconds as an ISO 8601 UTC timestamp, character for character what
// `new Date(ms).toISOString()` writes, and throwing the same RangeError where it throws.
//
// Every reserve's answer carries two such times and every event one: `toISOString` was about 3%
// of the HTTP thread's samples under a hot SKU (bench/micro/iso-time.ts measures both ways). The
// date part changes once a day, so it is written by `toISOString` once and kept; the time of day
// is put together from tables of two- and three-digit strings.

const dayMs = 86_400_000;
/** The largest distance from the epoch a Date may hold (ECMA-262 TimeClip). */
const timeAbsMax = 8.64e15;

const twoDigits: readonly string[] = Array.from({ length: 100 }, (_, n) =>
  String(n).padStart(2, '0'),
);
const threeDigits: readonly string[] = Array.from({ length: 1000 }, (_, n) =>
  String(n).padStart(3, '0'),
);

/** The day of the last time written, and its date as written ('2026-12-05T'). */
let lastDayMs = Number.NaN;
let lastDatePart = '';

export function isoTime(epochMs: number): string {
  // NaN, infinities and times beyond a Date's range: Date says what it says (it throws).
  if (!(Math.abs(epochMs) <= timeAbsMax)) return new Date(epochMs).toISOString();
  // As Date keeps it: the fraction cut toward zero.
  const ms = Math.trunc(epochMs);
  const dayStartMs = Math.floor(ms / dayMs) * dayMs;
  if (dayStartMs !== lastDayMs) {
    const whole = new Date(dayStartMs).toISOString();
    lastDatePart = whole.slice(0, whole.indexOf('T') + 1);
    lastDayMs = dayStartMs;
  }
  let rest = ms - dayStartMs;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  rest -= seconds * 1000;
  return (
    lastDatePart +
    (twoDigits[hours] as string) +
    ':' +
    (twoDigits[minutes] as string) +
    ':' +
    (twoDigits[seconds] as string) +
    '.' +
    (threeDigits[rest] as string) +
    'Z'
  );
}
