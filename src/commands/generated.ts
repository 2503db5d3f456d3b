// Files generated from the TypeScript definitions, shared with the worker and with editors: the
// backends' options (protocol/options.json), explain's op kinds and ISA classes (protocol/explain.json)
// and the ladder file's schema (ladders/ladder.schema.json).
import path from 'node:path';
import { optionsJsonSchema } from '../backends/registry.ts';
import { repoRoot } from '../paths.ts';
import { ISAS, OP_KINDS } from '../results/explain.ts';
import { ladderJsonSchema } from '../rungs/ladder.ts';

const json = (data: unknown) => `${JSON.stringify(data, null, 2)}\n`;

/** Each generated file's path and its current content. */
export function generatedFiles(): Record<string, string> {
  return {
    [path.join(repoRoot, 'protocol', 'options.json')]: json({
      $comment:
        "Generated from each backend's zod schema (src/backends/<name>.ts) by `npm run protocol`; do not edit. The worker (python/ladder_worker/options.py) validates a rung's options against its backend's schema and takes every default from here, so an option has one definition.",
      backends: optionsJsonSchema(),
    }),
    [path.join(repoRoot, 'protocol', 'explain.json')]: json({
      $comment:
        'Generated from src/results/explain.ts by `npm run protocol`; do not edit. The op kinds (in the order shown) and the ISA classes that the worker (python/ladder_worker/explain.py) gives each op and kernel it profiles.',
      kinds: OP_KINDS,
      isas: ISAS,
    }),
    [path.join(repoRoot, 'ladders', 'ladder.schema.json')]: json(ladderJsonSchema()),
  };
}
