// `raunet models publish`: the model-folder checks and how the target bucket/table are found (no AWS:
// the stack outputs reader is injected). The upload and registration run in test/e2e/local-cloud-publish.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolvePublishTarget, runPublish } from '../../lib/cli/commands/models.ts';
import { main } from '../../lib/cli/main.ts';
import { checkModelFolder } from '../../lib/cloud/publish.ts';

const DEMO = 'models/demo';
let dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
});

/** A copy of the demo liver stage under `<tmp>/liver/fold-0/`, for breaking. */
async function liverCopy(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'raunet-publish-'));
  dirs.push(d);
  await cp(path.join(DEMO, 'liver'), path.join(d, 'liver'), { recursive: true });
  return d;
}

describe('the model folder check', () => {
  it('accepts the demo models for each stage, from the models root or the stage folder', async () => {
    for (const stage of ['localize', 'liver', 'tumor'] as const) {
      const folds = await checkModelFolder(DEMO, stage);
      expect(folds.map((f) => [f.fold, f.manifest.stage])).toEqual([[0, stage]]);
      expect(folds[0].files.at(-1)).toBe('manifest.json'); // uploaded last: it marks a complete model
    }
    expect((await checkModelFolder(`${DEMO}/tumor`, 'tumor')).length).toBe(1);
  });

  it('refuses another stage, a missing file, a bad manifest, a wrong arch and an empty folder', async () => {
    await expect(checkModelFolder(`${DEMO}/liver`, 'tumor')).rejects.toThrow(/is a liver model, not tumor/);
    const d = await liverCopy();
    await rm(path.join(d, 'liver/fold-0/weights.bin'));
    await expect(checkModelFolder(d, 'liver')).rejects.toThrow(/fold-0: missing weights\.bin/);
    const e = await liverCopy();
    await writeFile(path.join(e, 'liver/fold-0/manifest.json'), '{"arch": "raunet2"');
    await expect(checkModelFolder(e, 'liver')).rejects.toThrow(/manifest\.json: is not valid JSON/);
    const f = await liverCopy();
    const m = JSON.parse(await readFile(path.join(f, 'liver/fold-0/manifest.json'), 'utf8'));
    await writeFile(path.join(f, 'liver/fold-0/manifest.json'), JSON.stringify({ ...m, stage: 'localize' }));
    await expect(checkModelFolder(path.join(f, 'liver'), 'localize')).rejects.toThrow(
      /arch raunet2 is 3D; stage localize runs a 2D network/,
    );
    await expect(checkModelFolder(path.join(f, 'liver/fold-0'), 'liver')).rejects.toThrow(
      /holds no liver\/fold-<k>/,
    );
    await expect(checkModelFolder('/no/such/dir', 'liver')).rejects.toThrow(/is not a folder/);
  });
});

describe('the publish target', () => {
  const outputs = {
    ModelsBucketName: 'raunet-models-x',
    ModelsTableName: 'raunet-models-table-x',
    Other: 'y',
  };

  it('reads the Raunet-<env> stack outputs, or takes --bucket/--table as given', async () => {
    const reader = vi.fn(async () => outputs);
    expect(await resolvePublishTarget({ env: 'staging', region: 'eu-west-1' }, reader)).toEqual({
      bucket: 'raunet-models-x',
      table: 'raunet-models-table-x',
    });
    expect(reader).toHaveBeenCalledWith('Raunet-staging', 'eu-west-1');
    reader.mockClear();
    expect(await resolvePublishTarget({ env: 'dev', bucket: 'b1', table: 't1' }, reader)).toEqual({
      bucket: 'b1',
      table: 't1',
    });
    expect(reader).not.toHaveBeenCalled();
  });

  it('reads a cdk --outputs-file', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'raunet-outputs-'));
    dirs.push(d);
    await writeFile(path.join(d, 'out.json'), JSON.stringify({ 'Raunet-prod': outputs }));
    const reader = vi.fn();
    expect(
      await resolvePublishTarget({ env: 'prod', outputsFile: path.join(d, 'out.json') }, reader),
    ).toEqual({
      bucket: 'raunet-models-x',
      table: 'raunet-models-table-x',
    });
    expect(reader).not.toHaveBeenCalled();
    await expect(resolvePublishTarget({ env: 'dev', outputsFile: path.join(d, 'out.json') })).rejects.toThrow(
      /stack Raunet-dev has no output ModelsBucketName, ModelsTableName/,
    );
  });

  it('names what is missing', async () => {
    await expect(resolvePublishTarget({})).rejects.toThrow(/pass --env/);
    await expect(resolvePublishTarget({ env: 'qa' })).rejects.toThrow(
      /--env must be one of dev, staging, prod/,
    );
    await expect(resolvePublishTarget({ bucket: 'b' })).rejects.toThrow(/--bucket and --table go together/);
    await expect(
      resolvePublishTarget({ env: 'dev' }, async () => ({ ModelsBucketName: 'b' })),
    ).rejects.toThrow(/has no output ModelsTableName/);
  });

  it('refuses a bad folder before looking up the stack or uploading: one line, exit code 2', async () => {
    const reader = vi.fn(async () => outputs);
    await expect(
      runPublish(`${DEMO}/liver`, { stage: 'tumor', env: 'dev' }, { readOutputs: reader }),
    ).rejects.toThrow(/not tumor/);
    expect(reader).not.toHaveBeenCalled();
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      err += String(s);
      return true;
    });
    try {
      expect(
        await main(['node', 'raunet', 'models', 'publish', '--stage', 'kidney', '--env', 'dev', DEMO]),
      ).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(err).toBe('error: --stage must be one of localize, liver, tumor, brats (got kidney)\n');
  });
});
