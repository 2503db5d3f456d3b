import os from 'node:os';
import type { Argv } from 'yargs';
import { BACKENDS } from '../backends/registry.ts';
import { UserError } from '../errors.ts';
import { machine } from '../machine.ts';
import { explainLines, explainTable } from '../render/explain.ts';
import { mdUnescape } from '../render/markdown.ts';
import { explainSummary } from '../results/explain.ts';
import { explainRung } from '../run/explain-step.ts';
import { applyOverrides } from '../rungs/ladder.ts';
import {
  type CommonArgs,
  checkFlags,
  jsonOption,
  ladderFrom,
  ladderOption,
  printJson,
  repeated,
  scenarioOptions,
  setOption,
  unknownRung,
} from './options.ts';

export const explainCommand = {
  command: 'explain <rung>',
  describe:
    "Profile one UNet call of a rung with its runtime's own profiler: where the time goes by op kind, its rate against the peak, the kernels it ran",
  builder: (y: Argv) =>
    jsonOption(
      setOption(
        ladderOption(
          scenarioOptions(
            y.positional('rung', { type: 'string', demandOption: true, describe: 'rung id (see: ladder rungs)' }),
          ),
        ),
      ),
      'the profile, its groups and the peaks (docs/json.md)',
    )
      .example('$0 explain openvino-static --ladder beyond', "where an OpenVINO UNet call's time goes")
      .example('$0 explain baseline --profile smoke --model synthetic:tiny', 'the shape of the table, in seconds'),
  handler: async (a: CommonArgs & { rung: string; ladder: string; json: boolean }) => {
    const ladder = ladderFrom(a);
    const found = ladder.rungs.find((r) => r.id === a.rung);
    if (!found) throw unknownRung(a.rung, ladder);
    const rung = applyOverrides(found, repeated('set', a.set));
    const { model, scenario } = checkFlags(a);
    const unsupported = BACKENDS.get(rung.backend)?.unsupported?.(machine());
    if (unsupported) throw new UserError(`rung ${rung.id} cannot run here: ${unsupported}`);
    const log = a.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    log(`explain ${rung.id} (${rung.backend}): ${rung.description}`);
    const explained = await explainRung(
      rung,
      {
        model,
        scenario,
        outDir: os.tmpdir(), // nothing is written: the profile is printed
        heartbeatTimeoutMs: a['heartbeat-timeout'] * 1000,
        jobTimeoutS: a['job-timeout'],
        verbose: a.verbose,
        envs: a.envs,
        threads: a.threads,
      },
      log,
    );
    const summary = explainSummary(explained.profile, explained.peaks_gflops);
    if (a.json) return printJson({ ...explained, summary });
    const inputs = Object.entries(explained.profile.inputs)
      .map(([k, v]) => `${k} [${v.join(', ')}]`)
      .join(', ');
    log(`One UNet call of ${rung.id} at ${scenario.height}x${scenario.width} (${inputs}):`);
    log('');
    log(mdUnescape(explainTable(summary)));
    log('');
    for (const line of explainLines(summary)) log(line);
    const sources = Object.entries(explained.peaks_source).map(
      ([d, s]) => `${d} ${s === 'cache' ? "from the machine's peak cache" : 'probed now (short)'}`,
    );
    if (sources.length) log(`Peaks: ${sources.join(', ')}.`);
  },
};
