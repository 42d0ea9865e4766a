// The request limits the unit tests validate with (the ledger's defaults), and a validator of
// them.
import { RequestValidator } from '../../src/http/validate.js';

export const testLimits = {
  quantityMax: 1000,
  ttlSecondsMin: 60,
  ttlSecondsMax: 3600,
  ttlSecondsDefault: 600,
  adjustDeltaMax: 1_000_000_000,
  cartLinesMax: 100,
} as const;

export const testValidator = (): RequestValidator => new RequestValidator(testLimits);
