// The shedding rule over each owner node's forwards (src/cluster/hop-admission.ts): the shards'
// rule (queue-admission.ts), counted per node. Below the floor everything goes; at the floor a
// hop whose drain rate is not known yet sheds reserves, with retry-after; once the hop has shown
// a fast drain it lets more in; nodes are counted apart; and only reserves are ever shed.
import { describe, expect, it } from 'vitest';
import { HopAdmission } from '../../../src/cluster/hop-admission.js';
import { drainRateWindowMs } from '../../../src/limits.js';

const rule = { queueDelayMs: 100, floor: 4 };

describe('shedding on the way to another node', () => {
  it('lets the floor in, then sheds reserves while the drain rate is unknown', () => {
    const hops = new HopAdmission(rule);
    for (let sent = 0; sent < rule.floor; sent += 1) {
      expect(hops.admit('b', true, 0)).toBeUndefined();
    }
    expect(hops.inFlight('b')).toBe(rule.floor);
    expect(hops.admit('b', true, 0)).toBe(1); // refused, retry after 1 s
    expect(hops.inFlight('b')).toBe(rule.floor);
    // Not a reserve: never shed (a confirm or release ends a hold already granted).
    expect(hops.admit('b', false, 0)).toBeUndefined();
    // Another node's hop is counted apart.
    expect(hops.admit('c', true, 0)).toBeUndefined();
    expect(hops.inFlight('c')).toBe(1);
  });

  it('lets more in once the hop has shown it drains fast, and sheds when it does not', () => {
    const hops = new HopAdmission(rule);
    // A fast hop: 4 in flight answered every millisecond for a whole drain window.
    let nowMs = 0;
    for (let sent = 0; sent < rule.floor; sent += 1) hops.admit('b', true, nowMs);
    while (nowMs <= drainRateWindowMs * 2) {
      nowMs += 1;
      hops.answered('b', nowMs);
      expect(hops.admit('b', true, nowMs)).toBeUndefined();
    }
    // 1,000 answers a second: 8 in flight wait 8 ms, well within the 100 ms bound.
    for (let sent = 0; sent < 4; sent += 1) expect(hops.admit('b', true, nowMs)).toBeUndefined();
    expect(hops.inFlight('b')).toBe(8);

    const slow = new HopAdmission(rule);
    // A slow hop: one answer every 100 ms, 4 in flight: a newcomer would wait about 400 ms.
    let at = 0;
    for (let sent = 0; sent < rule.floor; sent += 1) slow.admit('b', true, at);
    while (at <= drainRateWindowMs * 4) {
      at += 100;
      slow.answered('b', at);
      slow.admit('b', false, at); // kept at the floor by writes that are never shed
    }
    expect(slow.admit('b', true, at)).toBe(1);
  });
});
