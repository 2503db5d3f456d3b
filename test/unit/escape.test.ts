// Text from a run (an error, a warning, a path) in report.md, results.csv, `ladder compare --markdown`
// and the nightly Markdown summary: no raw HTML, no broken table, no cell a spreadsheet runs as a formula.
import { describe, expect, test } from 'vitest';
import { markdown as nightlyMarkdown } from '../../src/nightly/summary.ts';
import { renderMarkdown } from '../../src/render/compare.ts';
import { csvField, renderCsv } from '../../src/render/csv.ts';
import { mdCode, mdText } from '../../src/render/markdown.ts';
import { renderReport } from '../../src/render/report.ts';
import { compareRuns, type LoadedRun } from '../../src/results/compare.ts';
import type { RunFile } from '../../src/results/run-file.ts';
import { fixtureRun } from '../fixtures/run.ts';

const HOSTILE = '=HYPERLINK("http://x")<script>alert(1)</script>|x';

/** fixtureRun() with the failed rung's error (and a warning, the CPU's name) replaced by hostile text. */
function hostileRun(): RunFile {
  const run = fixtureRun();
  const failed = run.rungs.find((r) => r.status === 'failed')!;
  failed.error = HOSTILE;
  run.rungs[0]!.warnings = [`-2+3 <img src=x onerror=alert(2)>\nsecond line | *bold* _it_ [a](http://y) \`code\``];
  run.machine.cpu_model = '@SUM(A1) <b>Xeon</b>';
  return run;
}

/** What Markdown shows for mdText's output: backslash escapes and the three entities undone. */
const shown = (md: string) =>
  md.replace(/\\(.)/g, '$1').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The cells of every Markdown table row (split at unescaped pipes), and the text of every list item. */
function cellsAndItems(md: string): string[] {
  const lines = md.split('\n');
  const cells = lines
    .filter((l) => l.startsWith('|') && !/^\|[-:|]+\|$/.test(l)) // not the delimiter row
    .flatMap((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  const items = lines.filter((l) => /^- /.test(l)).map((l) => l.replace(/^- (\*\*[^*]+\*\*: )?/, ''));
  return [...cells, ...items];
}

/** Every table in `md` keeps its column count on every row: no pipe from a run's text got through. */
function tablesIntact(md: string): void {
  let width = 0;
  for (const l of md.split('\n')) {
    if (!l.startsWith('|')) {
      width = 0;
      continue;
    }
    const n = l.slice(1, -1).split(/(?<!\\)\|/).length;
    if (!width) width = n;
    expect(n, l).toBe(width);
  }
}

function expectSafeMarkdown(md: string): void {
  expect(md).not.toMatch(/<script|<img|<b>|<\/?[a-z]/i); // no raw HTML tag at all
  for (const c of cellsAndItems(md)) expect(c, c).not.toMatch(/^[=+\-@]/);
  tablesIntact(md);
}

describe('mdText', () => {
  test('escapes what Markdown would read as markup, and shows the text unchanged', () => {
    expect(mdText('a|b')).toBe('a\\|b');
    expect(mdText('<script>x</script>')).toBe('&lt;script&gt;x&lt;/script&gt;');
    expect(mdText('a & b &lt;')).toBe('a &amp; b &amp;lt;');
    expect(mdText('`x` *y* _z_ [l](u) \\')).toBe('\\`x\\` \\*y\\* \\_z\\_ \\[l\\](u) \\\\');
    expect(mdText('one\ntwo\r\n  three\rfour')).toBe('one two three four'); // one line per cell
    for (const s of [HOSTILE, 'back\\|slash', '&amp; <a href="x">`*_[]', 'C:\\path\\_x_'])
      expect(shown(mdText(s))).toBe(s);
  });

  test('a leading =, +, -, @ is escaped; plain numbers and plain words are left alone', () => {
    expect(mdText('=1+2')).toBe('\\=1+2');
    expect(mdText('+x')).toBe('\\+x');
    expect(mdText('- item')).toBe('\\- item');
    expect(mdText('@SUM(A1)')).toBe('\\@SUM(A1)');
    expect(mdText('-0.5')).toBe('-0.5');
    expect(mdText('1.1e-5')).toBe('1.1e-5');
    expect(mdText('baseline')).toBe('baseline');
    expect(mdText(undefined)).toBe('');
  });

  test('mdCode: one code span, whatever backticks the text holds', () => {
    expect(mdCode('results/run')).toBe('`results/run`');
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x`')).toBe('`` `x` ``');
    expect(mdCode('two\nlines')).toBe('`two lines`');
  });
});

describe('results.csv', () => {
  test('a cell starting with =, +, -, @, tab or carriage return gets a leading quote; numbers stay numbers', () => {
    expect(csvField('=1+2')).toBe("'=1+2");
    expect(csvField('+1 555')).toBe("'+1 555");
    expect(csvField('-x')).toBe("'-x");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('=A1,B1')).toBe(`"'=A1,B1"`);
    expect(csvField(-0.5)).toBe('-0.5');
    expect(csvField('-0.5')).toBe('-0.5');
    expect(csvField(-1e-7)).toBe('-1e-7');
    expect(csvField('a=b')).toBe('a=b');
  });

  test('the hostile error is neither a formula nor split across cells', () => {
    const csv = renderCsv(hostileRun());
    const fields = csv
      .split('\r\n')
      .filter(Boolean)
      .flatMap((line) => line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, '')));
    for (const f of fields) expect(f.replace(/^"/, ''), f).not.toMatch(/^[=+@\t\r]|^-(?!\d)/);
    expect(csv).toContain(`"'=HYPERLINK(""http://x"")<script>alert(1)</script>|x"`);
  });
});

describe('Markdown renderers', () => {
  test('report.md', () => {
    const md = renderReport(hostileRun());
    expectSafeMarkdown(md);
    const item = md.split('\n').find((l) => l.startsWith('- **ipex-bf16**:'))!;
    expect(shown(item.replace('- **ipex-bf16**: ', ''))).toBe(HOSTILE);
    expect(md).toMatch(/^Machine: \\@SUM\(A1\) &lt;b&gt;Xeon&lt;\/b&gt;, 2 logical CPUs/m);
    expect(md.split('\n').filter((l) => l.startsWith('- **baseline**:'))).toHaveLength(1); // the warning's line break
  });

  test('ladder compare --markdown', () => {
    const a: LoadedRun = { file: 'runs/a`b/run.json', run: fixtureRun() };
    const b: LoadedRun = { file: 'runs/b/run.json', run: hostileRun() };
    const md = renderMarkdown(compareRuns(a, b));
    expectSafeMarkdown(md);
    expect(md).toContain('**A**: ``runs/a`b/run.json``');
    const note = md.split('\n').find((l) => l.startsWith('- ipex-bf16: B: '))!;
    expect(shown(note.replace('- ', ''))).toBe(`ipex-bf16: B: ${HOSTILE}`);
    expect(md).toMatch(/^> \*\*Warning\*\*: the runs come from different machines .*B: @SUM\(A1\) &lt;b&gt;Xeon/m);
  });

  test('the nightly --markdown summary', () => {
    const md = nightlyMarkdown(
      '0123456789ab',
      [
        { id: 'baseline', verdict: 'unchanged', ratio: 1.01, p: 0.4, detail: 'against 5 night(s)' },
        { id: 'ipex-bf16', verdict: 'failed', detail: HOSTILE },
      ],
      [{ env: 'torch', package: '<script>x</script>', from: '=1', to: '-2|3' }],
    );
    expectSafeMarkdown(md);
    const row = md.split('\n').find((l) => l.startsWith('| ipex-bf16 '))!;
    expect(shown(row.split(/(?<!\\)\|/)[5]!.trim())).toBe(HOSTILE);
    expect(md).toContain('- torch: &lt;script&gt;x&lt;/script&gt; \\=1 → \\-2\\|3');
  });
});
