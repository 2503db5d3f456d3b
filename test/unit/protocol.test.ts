// The generated files of protocol/ and ladders/ are what the TypeScript definitions say now.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { generatedFiles } from '../../src/commands/generated.ts';

it.each(Object.entries(generatedFiles()).map(([file, text]) => [path.basename(file), file, text]))(
  '%s is current (npm run protocol writes it)',
  (_name, file, text) => {
    expect(readFileSync(file, 'utf8')).toBe(text);
  },
);
