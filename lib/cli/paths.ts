/** Paths inside the repository the CLI ships with (valid from any current directory). */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The bundled demo models (`models/demo`): phantom-trained, for demonstration only. */
export const BUNDLED_DEMO_MODELS = join(REPO_ROOT, 'models/demo');

/** The `raunet` launcher (child processes run it). */
export const CLI_LAUNCHER = join(REPO_ROOT, 'bin/raunet.js');
