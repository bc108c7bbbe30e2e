/** Locations inside the repository that the constructs build assets from. */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');
