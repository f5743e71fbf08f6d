import { describe, expect, it, vi } from 'vitest';
import { type Row, ratioOf } from './report.js';
import { peerLabel, RowTable } from './rows.js';

/**
 * RowTable replaces the row closures each suite carried. The references below are those closures
 * as they were (estimators / autoregressive, vae, flows, kernels), so the rows a suite writes stay
 * byte-identical (JSON, key order included) whichever suite switches to the shared helper.
 */
type PeerData = { torch: string } | null;

function estimatorsAdd(peer: PeerData, rows: Row[]) {
  const peerName = peer ? `pytorch-${peer.torch}-1thread` : '';
  return (name: string, value: number, unit: string, note?: string, peerValue?: number) => {
    const row: Row = {
      name,
      value,
      unit,
      peer: peer && peerValue !== undefined ? { name: peerName, value: peerValue } : null,
      ratio: peer && peerValue !== undefined ? ratioOf(value, peerValue) : null,
    };
    if (note) row.note = note;
    rows.push(row);
  };
}

function vaeAdd(peer: PeerData, rows: Row[]) {
  const peerName = peer ? `pytorch-${peer.torch}-1thread` : '';
  const add = (
    name: string,
    value: number,
    unit: string,
    note?: string,
    p?: { name: string; value: number },
  ) => {
    const row: Row = {
      name,
      value,
      unit,
      peer: p ?? null,
      ratio: p ? ratioOf(value, p.value) : null,
    };
    if (note) row.note = note;
    rows.push(row);
  };
  return (name: string, value: number, unit: string, note?: string, peerValue?: number) =>
    add(
      name,
      value,
      unit,
      note,
      peerValue === undefined ? undefined : { name: peerName, value: peerValue },
    );
}

function flowsAdd(peer: PeerData, rows: Row[]) {
  const peerName = peer ? `pytorch-${peer.torch}-1thread` : '';
  return (
    name: string,
    value: number,
    unit: string,
    peerValue?: number,
    note?: string,
    cost = true,
  ) => {
    const row: Row = {
      name,
      value,
      unit,
      peer: peer && peerValue !== undefined ? { name: peerName, value: peerValue } : null,
      ratio: peer && cost ? ratioOf(value, peerValue) : null,
    };
    if (note) row.note = note;
    rows.push(row);
  };
}

function kernelsAdd(peer: PeerData, rows: Row[]) {
  return (
    name: string,
    value: number,
    unit: string,
    peerValue: number | undefined,
    note?: string,
  ) => {
    const row: Row = {
      name,
      value,
      unit,
      peer:
        peer && peerValue !== undefined
          ? { name: `pytorch-${peer.torch}-1thread`, value: peerValue }
          : null,
      ratio: peer ? ratioOf(value, peerValue) : null,
    };
    if (note) row.note = note;
    rows.push(row);
  };
}

const PEERS: PeerData[] = [null, { torch: '2.6.0' }];
const VALUES = [12.5, 0, -3, Number.NaN];
const PEER_VALUES = [undefined, 5, 0, -1];
const NOTES = [undefined, '', 'a note'];

describe('RowTable', () => {
  it('records the rows every suite recorded, byte for byte', () => {
    for (const peer of PEERS) {
      const ref = {
        estimators: [] as Row[],
        vae: [] as Row[],
        flows: [] as Row[],
        flowsNoCost: [] as Row[],
        kernels: [] as Row[],
      };
      const est = estimatorsAdd(peer, ref.estimators);
      const vae = vaeAdd(peer, ref.vae);
      const flows = flowsAdd(peer, ref.flows);
      const flowsNoCost = flowsAdd(peer, ref.flowsNoCost);
      const kernels = kernelsAdd(peer, ref.kernels);
      const table = new RowTable({ peer: peerLabel(peer) });
      const noCost = new RowTable({ peer: peerLabel(peer) });
      let k = 0;
      for (const value of VALUES) {
        for (const pv of PEER_VALUES) {
          for (const note of NOTES) {
            const name = `row-${k++}`;
            est(name, value, 'ms', note, pv);
            // the vae suite's peer values are `peer?.…`: undefined whenever no peer ran
            vae(name, value, 'ms', note, peer ? pv : undefined);
            flows(name, value, 'ms', pv, note);
            flowsNoCost(name, value, 'ms', pv, note, false);
            kernels(name, value, 'ms', pv, note);
            table.add(name, value, 'ms', { note, peer: pv });
            noCost.add(name, value, 'ms', { note, peer: pv, ratio: false });
          }
        }
      }
      const got = JSON.stringify(table.rows);
      expect(table.rows).toHaveLength(VALUES.length * PEER_VALUES.length * NOTES.length);
      expect(got).toBe(JSON.stringify(ref.estimators));
      expect(got).toBe(JSON.stringify(ref.vae));
      expect(got).toBe(JSON.stringify(ref.flows));
      expect(got).toBe(JSON.stringify(ref.kernels));
      expect(JSON.stringify(noCost.rows)).toBe(JSON.stringify(ref.flowsNoCost));
    }
  });

  it('fills peer and ratio only when a peer ran and measured the row', () => {
    const t = new RowTable({ peer: 'pytorch-2.6.0-1thread' });
    expect(t.add('a', 20, 'ms', { peer: 5 })).toEqual({
      name: 'a',
      value: 20,
      unit: 'ms',
      peer: { name: 'pytorch-2.6.0-1thread', value: 5 },
      ratio: 4,
    });
    expect(t.add('b', 20, 'ms').peer).toBeNull();
    expect(new RowTable().add('c', 1, 'ms', { peer: 2 })).toEqual({
      name: 'c',
      value: 1,
      unit: 'ms',
      peer: null,
      ratio: null,
    });
    expect(peerLabel(null)).toBeNull();
    expect(peerLabel({ torch: '2.6.0' })).toBe('pytorch-2.6.0-1thread');
  });

  it('echoes each row as a progress line when asked (as the timing suites printed them)', () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      lines.push(String(s));
      return true;
    });
    try {
      const t = new RowTable({ peer: 'pytorch-x-1thread', echo: 2 });
      t.add('mlp-step', 12.345, 'ms', { peer: 6.5 });
      t.add('gemm', 3, 'GFLOP/s');
      new RowTable().add('quiet', 1, 'ms');
    } finally {
      spy.mockRestore();
    }
    expect(lines).toEqual([
      '[bench] mlp-step: 12.35 ms (peer 6.50)\n',
      '[bench] gemm: 3.00 GFLOP/s\n',
    ]);
  });
});
