/** Locations inside the repository that the constructs build assets from. */
import * as path from 'node:path';
import { REPO_ROOT } from '../repo-root.ts';

export { REPO_ROOT };
export const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');
