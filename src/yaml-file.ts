// Reading a YAML file a user wrote (ladder, space, fleet): a missing, unreadable or malformed file
// is one line naming the file, never a stack trace.
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from './errors.ts';
import { readProblem, readRegularFile } from './files.ts';

/** The parsed document, and the file as messages name it (relative to the working directory). */
export function readYamlFile(file: string, what: string): { doc: unknown; where: string } {
  const where = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    throw new UserError(`${where}: ${readProblem(err, what)}`, { cause: err });
  }
  try {
    return { doc: YAML.parse(text), where };
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}
