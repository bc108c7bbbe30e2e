/** Checks a report object against docs/report.schema.json; every test that writes reports calls it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from '../lib/repo-root.ts';
import { validateJsonSchema } from './json-schema.ts';

export const REPORT_SCHEMA = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/report.schema.json'), 'utf8'));

/** Problems of `report` against the schema (empty when valid). */
export function reportSchemaProblems(report: unknown): string[] {
  return validateJsonSchema(REPORT_SCHEMA, JSON.parse(JSON.stringify(report)));
}

export function expectValidReport(report: unknown): void {
  expect(reportSchemaProblems(report)).toEqual([]);
}
