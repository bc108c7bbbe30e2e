/** Paths inside the repository the CLI ships with (valid from any current directory). */
import { join } from 'node:path';
import { REPO_ROOT } from '../repo-root.ts';

/** The bundled demo models (`models/demo`): phantom-trained, for demonstration only. */
export const BUNDLED_DEMO_MODELS = join(REPO_ROOT, 'models/demo');

/** The bundled demo brain-tumour model (`models/demo-brain`): phantom-trained, for demonstration only. */
export const BUNDLED_DEMO_BRAIN_MODELS = join(REPO_ROOT, 'models/demo-brain');

/** The `raunet` launcher (child processes run it). */
export const CLI_LAUNCHER = join(REPO_ROOT, 'bin/raunet.js');
