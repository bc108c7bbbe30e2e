/**
 * `raunet phantom --out dir --count N --seed S [--dims 128x128x64] [--spacing sx,sy,sz] [--tumors n]
 *  [--tumor-radius min,max]`:
 * writes synthetic CT phantoms with ground truth in the LiTS layout (see docs/phantoms.md);
 * `--kind brain [--size brats|small] [--skull-stripped]` writes four-sequence brain MRI phantoms in the
 * BraTS layout instead.
 */
import type { Command } from 'commander';
import { InputError } from '../../errors.ts';
import { BRAIN_SIZES, type BrainSize } from '../../phantom/brain.ts';
import { writeBrainPhantomSet } from '../../phantom/brain-set.ts';
import { writePhantomSet } from '../../phantom/set.ts';
import type { Vec3 } from '../../volume/volume.ts';

function parseTriple(text: string, separator: RegExp, what: string, example: string): Vec3 {
  const parts = text.split(separator).map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((v) => !Number.isFinite(v))) {
    throw new InputError(`--${what} must be three numbers like ${example}, got "${text}"`);
  }
  return parts as Vec3;
}

export const parseDims = (text: string): Vec3 => parseTriple(text, /x/i, 'dims', '128x128x64');
export const parseSpacing = (text: string): Vec3 => parseTriple(text, /,/, 'spacing', '0.8,0.8,2.5');

function parseRadius(text: string): [number, number] {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v))) {
    throw new InputError(`--tumor-radius must be two numbers in mm like 6,20, got "${text}"`);
  }
  return parts as [number, number];
}

function parseInteger(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new InputError(`--${what} must be an integer >= ${min}, got "${text}"`);
  return n;
}

function parseKind(text: string): 'liver' | 'brain' {
  if (text !== 'liver' && text !== 'brain') {
    throw new InputError(`--kind must be liver or brain, got "${text}"`);
  }
  return text;
}

function parseBrainSize(text: string): BrainSize {
  if (!Object.hasOwn(BRAIN_SIZES, text)) {
    throw new InputError(`--size must be one of ${Object.keys(BRAIN_SIZES).join(', ')}, got "${text}"`);
  }
  return text as BrainSize;
}

/** Options only one kind understands, refused with the other (rather than silently ignored). */
const LIVER_ONLY = ['tumors', 'tumorRadius'] as const;
const BRAIN_ONLY = ['size', 'skullStripped'] as const;

export function register(program: Command): void {
  program
    .command('phantom')
    .description(
      'write synthetic phantoms: abdominal CT with liver/tumor labels (volume-K.nii.gz + segmentation-K.nii.gz), or with --kind brain four-sequence brain MRI in the BraTS layout (<id>/<id>_{t1,t1ce,t2,flair,seg}.nii.gz)',
    )
    .option('--kind <liver|brain>', 'abdominal CT (liver) or brain MRI (brain)', 'liver')
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--count <n>', 'number of cases', '1')
    .option('--seed <s>', 'seed of the set; case K uses a seed derived from it and K', '0')
    .option('--start <k>', 'number of the first case', '0')
    .option('--dims <XxYxZ>', 'grid size, e.g. 128x128x64 (default: 512x512, slice count drawn)')
    .option('--spacing <sx,sy,sz>', 'voxel size in mm, e.g. 0.8,0.8,2.5 (default: drawn per case)')
    .option('--tumors <n>', 'tumors per case (default: 0-4 at random)')
    .option(
      '--tumor-radius <min,max>',
      'tumor radii in mm, e.g. 6,20 (default: a mix from 2-3 voxels to 35 mm)',
    )
    .option(
      '--size <brats|small>',
      'brain: grid preset, brats = 240x240x155 at 1 mm (default), small = 96x96x64 at 2 mm; --dims/--spacing override it',
    )
    .option('--skull-stripped', 'brain: zero the scalp and skull, as BraTS data is')
    .option('--overwrite', 'write into a folder that already holds a set, replacing files of the same names')
    .option('--quiet', 'print nothing')
    .action(
      async (opts: {
        out: string;
        count: string;
        seed: string;
        start: string;
        dims?: string;
        spacing?: string;
        tumors?: string;
        tumorRadius?: string;
        kind: string;
        size?: string;
        skullStripped?: boolean;
        quiet?: boolean;
        overwrite?: boolean;
      }) => {
        const count = parseInteger(opts.count, 'count', 1);
        const seed = parseInteger(opts.seed, 'seed', 0);
        const start = parseInteger(opts.start, 'start', 0);
        const kind = parseKind(opts.kind);
        const foreign = (kind === 'brain' ? LIVER_ONLY : BRAIN_ONLY).find((k) => opts[k] !== undefined);
        if (foreign) {
          const flag = foreign.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
          throw new InputError(`--${flag} does not apply to --kind ${kind}`);
        }
        const t0 = performance.now();
        if (kind === 'brain') {
          const preset = BRAIN_SIZES[parseBrainSize(opts.size ?? 'brats')];
          await writeBrainPhantomSet(opts.out, count, seed, {
            start,
            overwrite: opts.overwrite,
            dims: opts.dims ? parseDims(opts.dims) : preset.dims,
            spacing: opts.spacing ? parseSpacing(opts.spacing) : preset.spacing,
            skullStripped: opts.skullStripped,
            onSubject: (k, dir) => {
              if (!opts.quiet) process.stdout.write(`subject ${k}: ${dir}\n`);
            },
          });
          if (!opts.quiet) {
            const s = ((performance.now() - t0) / 1000).toFixed(1);
            process.stdout.write(`wrote ${count} brain phantom subject(s) to ${opts.out} in ${s} s\n`);
          }
          return;
        }
        await writePhantomSet(opts.out, count, seed, {
          start,
          overwrite: opts.overwrite,
          dims: opts.dims ? parseDims(opts.dims) : undefined,
          spacing: opts.spacing ? parseSpacing(opts.spacing) : undefined,
          tumors: opts.tumors === undefined ? undefined : parseInteger(opts.tumors, 'tumors', 0),
          tumorRadius: opts.tumorRadius ? parseRadius(opts.tumorRadius) : undefined,
          onCase: (k, files) => {
            if (!opts.quiet) process.stdout.write(`case ${k}: ${files.join(' ')}\n`);
          },
        });
        if (!opts.quiet) {
          const s = ((performance.now() - t0) / 1000).toFixed(1);
          process.stdout.write(`wrote ${count} phantom case(s) to ${opts.out} in ${s} s\n`);
        }
      },
    );
}
