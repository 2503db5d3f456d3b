// Reading a YAML file a user wrote (ladder, space, fleet): a missing, unreadable or malformed file
// is one line naming the file, never a stack trace.
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from './errors.ts';
import { readProblem, readRegularFile } from './files.ts';

/** Object keys that are never fields: a mapping key `__proto__` sets the parsed object's prototype. */
export const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * YAML text as plain data; refuses a mapping key that would reach a prototype (the parser turns a
 * `__proto__` key into the object's prototype, so no schema downstream would ever see it).
 */
export function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) throw new UserError(doc.errors[0]!.message.split('\n')[0]!);
  let bad: string | undefined;
  YAML.visit(doc, {
    Pair(_, pair) {
      const key = YAML.isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key === 'string' && UNSAFE_KEYS.has(key)) bad ??= key;
    },
  });
  if (bad !== undefined) throw new UserError(`a key '${bad}' is not allowed (it would reach an object's prototype)`);
  return doc.toJS();
}

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
    return { doc: parseYaml(text), where };
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}
