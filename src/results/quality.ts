// The quality guard: a rung's final image against the fp32 reference of the same scheduler and size.
import { readFileSync } from 'node:fs';
import { RunError } from '../errors.ts';

/** Reads a little-endian float32 .npy file (what the worker saves). */
export function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new RunError(`${file}: not a .npy file`);
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    throw new RunError(`${file}: expected C-ordered float32`);
  const shape = (header.match(/'shape':\s*\(([^)]*)\)/)?.[1] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map(Number);
  const bytes = buf.subarray(start);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { shape, data };
}

export interface Quality {
  reference: string;
  psnr_db: number;
  max_abs_diff: number;
  flagged: boolean;
}

/** PSNR (images in [0, 1]) and largest absolute difference; identical images give Infinity dB. */
export function compareImages(a: Float32Array, b: Float32Array): { psnr_db: number; max_abs_diff: number } {
  if (a.length !== b.length) throw new RunError(`image sizes differ: ${a.length} vs ${b.length}`);
  let sq = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sq += d * d;
    if (d > max) max = d;
  }
  const mse = sq / a.length;
  return { psnr_db: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(1 / mse), max_abs_diff: max };
}

/** How many values of an image are NaN or infinite. */
export function nonFinite(a: Float32Array): number {
  let n = 0;
  for (const x of a) if (!Number.isFinite(x)) n++;
  return n;
}
