// AMD's inductor backend (zentorch) for EPYC CPUs: torch-compile's rung with
// torch.compile(backend="zentorch"), in its own environment (zentorch pins torch 2.14). On any other
// CPU the rung is skipped with the reason: not a failure, and its environment is never built.
import { backend as compiled } from './torch-compile.ts';
import type { Backend } from './types.ts';

export const backend: Backend<typeof compiled.options> = {
  ...compiled,
  name: 'zentorch',
  title: 'diffusers on PyTorch 2.14 with torch.compile(backend="zentorch") (AMD EPYC only)',
  env: 'zentorch',
  unsupported: (m) =>
    m.cpu_vendor === 'AuthenticAMD'
      ? undefined
      : `zentorch is AMD's torch.compile backend for EPYC CPUs; this CPU is ${m.cpu_vendor ?? 'of an unknown vendor'} (${m.cpu_model})`,
  describe: (eff) => compiled.describe(eff).replace('inductor', 'zentorch'),
};
