// Assertions on the contract's error answers, shared by the HTTP tests of the checkout.
import { expect } from 'vitest';
import type { JsonResponse } from './http.js';

/** The answer has this status and the error body with this code. */
export function expectError(response: JsonResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.body, response.text).toMatchObject({ error: { code } });
}

/** 422 validation_failed naming `field`. */
export function expectValidation(response: JsonResponse, field: string): void {
  expectError(response, 422, 'validation_failed');
  expect(response.body, response.text).toMatchObject({ error: { details: { field } } });
}
