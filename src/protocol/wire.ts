// The TypeScript side of protocol/wire.json: the one definition both sides validate against.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { repoRoot } from '../paths.ts';

type FieldType = 'str' | 'int' | 'float' | 'bool' | 'map' | 'list' | 'any';
interface MessageSpec {
  from: 'worker' | 'controller' | 'both';
  fields: Record<string, string>;
}
interface Wire {
  version: number;
  /** Environment variables that change what is measured (a regular expression). */
  measured_env?: string;
  heartbeat_interval_ms: number;
  messages: Record<string, MessageSpec>;
}

// Python sends byte counts above 2^32 as uint64: read them as plain numbers, never BigInt.
const packr = new Packr({ int64AsType: 'number', useRecords: false });

export const WIRE: Wire = JSON.parse(readFileSync(path.join(repoRoot, 'protocol', 'wire.json'), 'utf8'));
export const PROTOCOL_VERSION = WIRE.version;
export const HEARTBEAT_INTERVAL_MS = WIRE.heartbeat_interval_ms;

export type Sender = 'worker' | 'controller';
export type Message = { v: number; type: string; [field: string]: unknown };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const isMap = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
const CHECKS: Record<FieldType, (x: unknown) => boolean> = {
  str: (x) => typeof x === 'string',
  int: (x) => Number.isInteger(x),
  float: (x) => typeof x === 'number',
  bool: (x) => typeof x === 'boolean',
  map: isMap,
  list: Array.isArray,
  any: () => true,
};

export function validate(msg: unknown, sender: Sender): Message {
  if (!isMap(msg)) throw new ProtocolError('message is not a map');
  const m = msg as Message;
  if (m.v !== PROTOCOL_VERSION)
    throw new ProtocolError(`protocol version ${String(m.v)}, expected ${PROTOCOL_VERSION}`);
  const spec = WIRE.messages[m.type];
  if (!spec) throw new ProtocolError(`unknown message type ${JSON.stringify(m.type)}`);
  if (spec.from !== sender && spec.from !== 'both')
    throw new ProtocolError(`'${m.type}' may not be sent by the ${sender}`);
  for (const [name, declared] of Object.entries(spec.fields)) {
    const optional = declared.endsWith('?');
    const kind = declared.replace(/\?$/, '') as FieldType;
    const value = m[name];
    if (value === undefined || value === null) {
      if (optional) continue;
      throw new ProtocolError(`${m.type}: missing field '${name}'`);
    }
    if (!CHECKS[kind](value)) throw new ProtocolError(`${m.type}.${name}: expected ${kind}, got ${typeof value}`);
  }
  return m;
}

export function message(type: string, fields: Record<string, unknown> = {}): Message {
  return { v: PROTOCOL_VERSION, type, ...fields };
}

export function encode(msg: Message, sender: Sender = 'controller'): Buffer {
  return packr.pack(validate(msg, sender));
}

export function decode(data: Buffer, sender: Sender = 'worker'): Message {
  let msg: unknown;
  try {
    msg = packr.unpack(data);
  } catch (err) {
    throw new ProtocolError(`undecodable message: ${(err as Error).message}`, { cause: err });
  }
  return validate(msg, sender);
}
