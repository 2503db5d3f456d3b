import { pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decode, encode, message, PROTOCOL_VERSION, ProtocolError, validate, WIRE } from '../../src/protocol/wire.ts';

describe('wire protocol', () => {
  it('round-trips a controller message through msgpack', () => {
    const msg = message('bench', { job: 'bench-1', scenario: { steps: 2 } });
    const back = decode(encode(msg, 'controller'), 'controller');
    expect(back).toEqual(msg);
  });

  it('rejects another version, unknown types, wrong senders and bad fields', () => {
    expect(() => decode(pack({ v: PROTOCOL_VERSION + 1, type: 'bye' }), 'worker')).toThrow(/protocol version/);
    expect(() => validate(message('nope'), 'worker')).toThrow(/unknown message type/);
    expect(() =>
      validate(message('load', { job: 'j', model: 'm', cache_dir: '/c', backend: 'torch', options: {} }), 'worker'),
    ).toThrow(/may not be sent by the worker/);
    expect(() => validate(message('done', { job: 'j' }), 'worker')).toThrow(/missing field 'result'/);
    expect(() => validate(message('progress', { job: 'j', stage: 'pass', index: 1.5 }), 'worker')).toThrow(
      /expected int/,
    );
    expect(() => decode(Buffer.from([0xc1]), 'worker')).toThrow(ProtocolError);
  });

  it('accepts optional fields left out and heartbeats from both sides', () => {
    expect(validate(message('progress', { job: 'j', stage: 'warmup' }), 'worker').stage).toBe('warmup');
    expect(validate(message('heartbeat'), 'worker').type).toBe('heartbeat');
    expect(validate(message('heartbeat'), 'controller').type).toBe('heartbeat');
  });

  it('declares every field with a known type', () => {
    for (const [name, spec] of Object.entries(WIRE.messages)) {
      for (const t of Object.values(spec.fields)) expect(t, name).toMatch(/^(str|int|float|bool|map|list|any)\??$/);
    }
  });
});
