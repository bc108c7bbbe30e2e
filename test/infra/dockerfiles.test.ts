/**
 * Image smoke test without Docker: every containers/Dockerfile.* is parsed (ENV, ARG, RUN, COPY,
 * ENTRYPOINT) and checked against what the code accepts: backend and engine names parse, the package a
 * backend loads is in package.json and built by the image's steps, GPU images carry what their GPU
 * backend needs, the entrypoint exists and is copied, and every copied path exists.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEngineKind } from '../../lib/inference/load.ts';
import { PINNED_IMAGE } from '../../lib/infra/config.ts';
import { BACKEND_PACKAGE, type BackendChoice, parseBackendChoice } from '../../lib/model/backend.ts';
import { REPO_ROOT } from '../../lib/repo-root.ts';

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Dockerfile: comments dropped, backslash continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    pending += `${pending ? ' ' : ''}${line.replace(/\\$/, '').trim()}`;
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(pending)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  return out;
}

/** ENV of the final stage (`K=V` pairs; quotes removed). */
function envOf(ins: Instruction[]): Record<string, string> {
  const lastFrom = ins.map((i) => i.op).lastIndexOf('FROM');
  const env: Record<string, string> = {};
  for (const i of ins.slice(lastFrom).filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g))
      env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

function finalStage(ins: Instruction[]): Instruction[] {
  return ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));
}

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};
/** Backends whose package has a native part built by an install script. */
const NATIVE: readonly BackendChoice[] = ['tensorflow', 'tensorflow-gpu'];

/** `repository:tag`, the unpinned form a base image may take (never without a tag, never `latest`). */
const TAGGED_IMAGE = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Every FROM (with the ARG defaults substituted) names an earlier stage, a `repository:tag` other than
 * `latest`, or an image pinned by digest (`repository[:tag]@sha256:<64 hex>`, the form config's
 * `batch.inferenceBaseImage` passes as CUDA_IMAGE).
 */
function baseImageProblems(name: string, ins: Instruction[]): string[] {
  const problems: string[] = [];
  const args: Record<string, string> = {};
  const stages: string[] = [];
  for (const i of ins) {
    if (i.op === 'ARG') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\S*))?/.exec(i.args);
      if (m?.[2] !== undefined) args[m[1]!] = m[2]!.replace(/^"|"$/g, '');
      continue;
    }
    if (i.op !== 'FROM') continue;
    const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const image = words[0]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, v: string) => args[v] ?? '');
    const isStage = stages.includes(image); // FROM <an earlier stage>: not a registry image
    if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.push(words[2]);
    if (isStage) continue;
    if (image.includes('@')) {
      if (!PINNED_IMAGE.test(image))
        problems.push(`${name}: FROM ${image}: a digest must be @sha256: and 64 lowercase hex digits`);
    } else if (!TAGGED_IMAGE.test(image) || image.endsWith(':latest')) {
      problems.push(`${name}: FROM ${image || '(empty)'}: name a tag (not latest) or pin a digest`);
    }
  }
  return problems;
}

/** Problems of one Dockerfile, as sentences (empty: fine). */
function dockerfileProblems(name: string, text: string): string[] {
  const problems: string[] = [];
  const ins = parseDockerfile(text);
  problems.push(...baseImageProblems(name, ins));
  const stage = finalStage(ins);
  const env = envOf(ins);
  const runs = stage.filter((i) => i.op === 'RUN').map((i) => i.args);
  const allRun = runs.join(' && ');
  const npmCi = runs.find((r) => /\bnpm ci\b/.test(r));
  if (!npmCi) problems.push(`${name}: no RUN npm ci`);
  const ignoreScripts = npmCi ? /--ignore-scripts/.test(npmCi) : false;
  // npm ci --omit=dev installs dependencies and optionalDependencies.
  const installed = (p: string) => p in pkg.dependencies || p in (pkg.optionalDependencies ?? {});
  if (npmCi && /\bnpm (install|i)\b/.test(allRun))
    problems.push(`${name}: installs packages outside the lock file`);

  // COPY sources exist (stage copies excepted); collect what the image holds.
  const copied: string[] = [];
  for (const c of stage.filter((i) => i.op === 'COPY')) {
    if (/--from=/.test(c.args)) continue;
    const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    for (const src of parts.slice(0, -1)) {
      copied.push(src.replace(/\/$/, ''));
      if (!existsSync(path.join(REPO_ROOT, src))) problems.push(`${name}: COPY ${src} does not exist`);
    }
  }

  // ENTRYPOINT: exec form; its script exists and is copied; `--import tsx` needs tsx installed.
  const entry = stage.filter((i) => i.op === 'ENTRYPOINT').at(-1);
  if (!entry) problems.push(`${name}: no ENTRYPOINT`);
  else {
    let argv: string[] = [];
    try {
      argv = JSON.parse(entry.args) as string[];
    } catch {
      problems.push(`${name}: ENTRYPOINT is not in exec (JSON) form`);
    }
    const script = argv.find((a) => /\.(ts|js|mjs)$/.test(a));
    if (!script) problems.push(`${name}: ENTRYPOINT runs no script`);
    else {
      if (!existsSync(path.join(REPO_ROOT, script)))
        problems.push(`${name}: ENTRYPOINT ${script} does not exist`);
      if (!copied.some((c) => script === c || script.startsWith(`${c}/`)))
        problems.push(`${name}: ENTRYPOINT ${script} is not copied into the image`);
    }
    const imp = argv.indexOf('--import');
    if (imp >= 0 && !(argv[imp + 1]! in pkg.dependencies))
      problems.push(`${name}: ENTRYPOINT imports ${argv[imp + 1]}, not in package.json dependencies`);
  }

  // Variables the code reads.
  if (env.RAUNET_ENGINE !== undefined) {
    try {
      parseEngineKind(env.RAUNET_ENGINE, 'RAUNET_ENGINE');
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  // Building tfjs-node(-gpu) downloads libtensorflow from storage.googleapis.com, which answers 403 since
  // August 2026: only an opt-in build (a mirror passed as a build argument) may do it.
  for (const run of runs) {
    const rebuild = /npm rebuild [^&;]*@tensorflow\/tfjs-node(-gpu)?\b/.exec(run);
    if (rebuild && !/\bif \[ -n "?\$\{?[A-Za-z_]+\}?"? \]; then[\s\S]*npm rebuild/.test(run))
      problems.push(
        `${name}: ${rebuild[0]} downloads libtensorflow unconditionally (its storage answers 403): make it opt-in`,
      );
  }
  const requireGpu = env.RAUNET_REQUIRE_GPU;
  if (requireGpu !== undefined && requireGpu !== '0' && requireGpu !== '1')
    problems.push(`${name}: RAUNET_REQUIRE_GPU=${requireGpu} (the entrypoint reads only 0 or 1)`);

  let backend: BackendChoice | undefined;
  if (env.RAUNET_BACKEND !== undefined) {
    try {
      backend = parseBackendChoice(env.RAUNET_BACKEND, 'RAUNET_BACKEND');
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (backend) {
    const p = BACKEND_PACKAGE[backend];
    if (!installed(p))
      problems.push(`${name}: RAUNET_BACKEND=${backend} loads ${p}, not in package.json dependencies`);
    if (NATIVE.includes(backend) && ignoreScripts && !new RegExp(`npm rebuild [^&]*${p}(\\s|$)`).test(allRun))
      problems.push(
        `${name}: RAUNET_BACKEND=${backend} loads ${p}, which the image never builds (npm ci --ignore-scripts, no npm rebuild ${p})`,
      );
    if (backend === 'webgpu') {
      if (!('webgpu' in pkg.dependencies))
        problems.push(`${name}: webgpu backend without the webgpu package`);
      if (requireGpu === '1') {
        if (!/\bgraphics\b/.test(env.NVIDIA_DRIVER_CAPABILITIES ?? ''))
          problems.push(
            `${name}: WebGPU on NVIDIA needs NVIDIA_DRIVER_CAPABILITIES with graphics (the Vulkan ICD)`,
          );
        if (!/apt-get install[^&]*\blibvulkan1\b/.test(allRun))
          problems.push(`${name}: no Vulkan loader (libvulkan1)`);
        if (!/icd\.d\/nvidia_icd\.json/.test(allRun) || !/libGLX_nvidia\.so\.0/.test(allRun))
          problems.push(`${name}: no NVIDIA Vulkan ICD file pointing at libGLX_nvidia.so.0`);
      }
    }
    if (requireGpu === '1' && backend !== 'webgpu' && backend !== 'tensorflow-gpu')
      problems.push(
        `${name}: RAUNET_REQUIRE_GPU=1 with RAUNET_BACKEND=${backend}, a CPU backend: every job would exit 3`,
      );
  } else if (requireGpu === '1' && env.RAUNET_ENGINE === 'tfjs') {
    problems.push(`${name}: a GPU tfjs image must name its GPU backend in RAUNET_BACKEND`);
  }
  return problems;
}

const DOCKERFILES = readdirSync(path.join(REPO_ROOT, 'containers'))
  .filter((f) => f.startsWith('Dockerfile.'))
  .sort();

describe('container images (Dockerfiles checked against the code, no Docker)', () => {
  it('finds the three images', () => {
    expect(DOCKERFILES).toEqual(['Dockerfile.cpu', 'Dockerfile.infer', 'Dockerfile.train']);
  });

  for (const file of DOCKERFILES) {
    it(`${file} agrees with the backends, engines, entrypoint and files it names`, () => {
      expect(
        dockerfileProblems(file, readFileSync(path.join(REPO_ROOT, 'containers', file), 'utf8')),
      ).toEqual([]);
    });
  }

  it('the training image runs WebGPU on the GPU and the inference image ONNX Runtime CUDA', () => {
    const read = (f: string) =>
      envOf(parseDockerfile(readFileSync(path.join(REPO_ROOT, 'containers', f), 'utf8')));
    expect(read('Dockerfile.train')).toMatchObject({ RAUNET_BACKEND: 'webgpu', RAUNET_REQUIRE_GPU: '1' });
    expect(read('Dockerfile.infer')).toMatchObject({ RAUNET_ENGINE: 'onnx', RAUNET_REQUIRE_GPU: '1' });
    const infer = readFileSync(path.join(REPO_ROOT, 'containers', 'Dockerfile.infer'), 'utf8');
    expect(infer).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/);
  });

  it('accepts base images pinned by digest (the CUDA base at deploy time) and refuses malformed or untagged ones', () => {
    const infer = readFileSync(path.join(REPO_ROOT, 'containers', 'Dockerfile.infer'), 'utf8');
    const tag = /^ARG CUDA_IMAGE=(\S+)$/m.exec(infer)?.[1];
    expect(tag).toMatch(/^nvidia\/cuda:12\./);
    const withBase = (image: string) => infer.replace(/^ARG CUDA_IMAGE=\S+$/m, `ARG CUDA_IMAGE=${image}`);
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    expect(dockerfileProblems('pinned', withBase(`${tag}@${digest}`))).toEqual([]);
    expect(dockerfileProblems('pinned', withBase(`nvidia/cuda@${digest}`))).toEqual([]);
    expect(dockerfileProblems('short', withBase(`${tag}@sha256:0123abcd`))).toEqual([
      `short: FROM ${tag}@sha256:0123abcd: a digest must be @sha256: and 64 lowercase hex digits`,
    ]);
    expect(dockerfileProblems('untagged', withBase('nvidia/cuda'))).toEqual([
      'untagged: FROM nvidia/cuda: name a tag (not latest) or pin a digest',
    ]);
    expect(dockerfileProblems('latest', withBase('nvidia/cuda:latest'))).toEqual([
      'latest: FROM nvidia/cuda:latest: name a tag (not latest) or pin a digest',
    ]);
  });

  it('catches the defects of the old training image (tfjs-node never built; CPU backend on a GPU queue)', () => {
    const old = [
      'FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04',
      'ENV RAUNET_BACKEND=tensorflow \\',
      '    RAUNET_REQUIRE_GPU=1',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --omit=dev --ignore-scripts \\',
      ' && npm rebuild @tensorflow/tfjs-node-gpu',
      'COPY containers ./containers',
      'ENTRYPOINT ["node", "--import", "tsx", "containers/batch-entrypoint.ts"]',
    ].join('\n');
    const problems = dockerfileProblems('old', old);
    expect(problems).toContainEqual(
      expect.stringMatching(/loads @tensorflow\/tfjs-node, which the image never builds/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/RAUNET_REQUIRE_GPU=1 with RAUNET_BACKEND=tensorflow/),
    );
    const noVulkan = old.replace('RAUNET_BACKEND=tensorflow', 'RAUNET_BACKEND=webgpu');
    expect(dockerfileProblems('nv', noVulkan)).toEqual([
      'nv: npm rebuild @tensorflow/tfjs-node-gpu downloads libtensorflow unconditionally (its storage answers 403): make it opt-in',
      'nv: WebGPU on NVIDIA needs NVIDIA_DRIVER_CAPABILITIES with graphics (the Vulkan ICD)',
      'nv: no Vulkan loader (libvulkan1)',
      'nv: no NVIDIA Vulkan ICD file pointing at libGLX_nvidia.so.0',
    ]);
    expect(
      dockerfileProblems('e', old.replace('containers/batch-entrypoint.ts', 'containers/nope.ts')),
    ).toContainEqual('e: ENTRYPOINT containers/nope.ts does not exist');
  });
});
