/** docs/report.schema.json: the validator, and the reports our code writes, against it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABELS } from '../../lib/pipeline/labels.ts';
import { REPORT_SCHEMA_VERSION } from '../../lib/pipeline/report.ts';
import { validateJsonSchema } from '../json-schema.ts';
import { expectValidReport, REPORT_SCHEMA, reportSchemaProblems } from '../report-schema.ts';
import { writeViewerFixture } from '../viewer/fixture.ts';

describe('validateJsonSchema', () => {
  const schema = {
    type: 'object',
    required: ['a'],
    additionalProperties: false,
    properties: {
      a: { type: 'integer', minimum: 0 },
      b: { anyOf: [{ $ref: '#/$defs/pair' }, { type: 'null' }] },
      c: { enum: ['x', 'y'] },
    },
    $defs: { pair: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number' } } },
  };
  it('accepts what matches and names each problem by path', () => {
    expect(validateJsonSchema(schema, { a: 1, b: [1, 2.5], c: 'x' })).toEqual([]);
    expect(validateJsonSchema(schema, { a: 1, b: null })).toEqual([]);
    expect(validateJsonSchema(schema, { a: -1.5, b: [1], c: 'z', d: 0 })).toEqual([
      '$.a: expected integer, got -1.5',
      '$.b: matches none of anyOf',
      '$.c: not one of ["x","y"]',
      '$: unexpected property d',
    ]);
    expect(validateJsonSchema(schema, {})).toEqual(['$: missing a']);
    expect(() => validateJsonSchema({ pattern: 'x' }, 'x')).toThrow(/unsupported keyword pattern/);
  });
});

describe('the segmentation report', () => {
  it('has a schemaVersion, the label names and matches the schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raunet-report-'));
    try {
      const { report } = await writeViewerFixture(dir);
      expect(report.schemaVersion).toBe(REPORT_SCHEMA_VERSION);
      expect(REPORT_SCHEMA.properties.schemaVersion.const).toBe(REPORT_SCHEMA_VERSION);
      expect(report.labels.map((l) => [l.value, l.name])).toEqual([
        [1, 'liver'],
        [2, 'tumor'],
      ]);
      expect(report.labels).toEqual(LABELS);
      expectValidReport(report);
      // The schema rejects what a reader could not use.
      const flagged = { ...report, flags: [{ code: 'liver-empty', severity: 'warning', message: 'm' }] };
      expect(reportSchemaProblems(flagged)).toEqual([]);
      expect(
        reportSchemaProblems({ ...report, flags: [{ code: 'x', severity: 'fatal', message: 'm' }] }),
      ).toEqual(['$.flags[0].severity: not one of ["info","warning"]']);
      const { schemaVersion: _, ...unversioned } = report;
      expect(reportSchemaProblems(unversioned)).toEqual(['$: missing schemaVersion']);
      expect(reportSchemaProblems({ ...report, tumorBurden: 1.5 })).toEqual(['$.tumorBurden: above 1']);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
