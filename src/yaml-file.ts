// Reading a YAML file a user wrote (ladder, space, fleet): a missing, unreadable or malformed file
// is one line naming the file, never a stack trace.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from './errors.ts';

/** The parsed document, and the file as messages name it (relative to the working directory). */
export function readYamlFile(file: string, what: string): { doc: unknown; where: string } {
  const where = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${where}: ${code === 'ENOENT' ? `no such ${what}` : `cannot read it (${code})`}`);
  }
  try {
    return { doc: YAML.parse(text), where };
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message.split('\n')[0]}`);
  }
}
