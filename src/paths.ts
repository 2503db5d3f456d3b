import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Environments and models live outside the checkout so fresh clones (and CI) reuse them. */
export function cacheRoot(): string {
  if (process.env.LADDER_CACHE_DIR) return path.resolve(process.env.LADDER_CACHE_DIR);
  return defaultCacheRoot();
}

/** The machine's matrix-product peaks the roofline is drawn against; LADDER_PEAKS_DIR keeps a set apart. */
export function peaksDir(): string {
  if (process.env.LADDER_PEAKS_DIR) return path.resolve(process.env.LADDER_PEAKS_DIR);
  return path.join(cacheRoot(), 'peaks');
}

/** The cache when neither LADDER_CACHE_DIR nor the config file moves it. */
export function defaultCacheRoot(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ladder');
}
