// The cost decision rule (issue 6) on synthetic and recorded samples, the measurement plan, and
// the workload and budget parsers.
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/core/searchSim.js';
import {
  CostMeasurement,
  decideCost,
  describeCost,
  figureFrom,
  measureSteps,
  minPairs,
  nextPairs,
  orderStatisticRank,
  pairOrder,
  parseBudget,
  parseWorkloadSpec,
  MAX_FIGURE_INPUT,
  restartsOf,
  type Config,
  type CostDecision,
  type Pair,
  type WorkloadSpec,
} from '../../src/core/cost.js';
import { AutohardenError } from '../../src/core/errors.js';
import { runWorkload } from '../../src/adapters/workload.js';

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

interface Machine {
  /** True slowdown of B: 0.1 = 10 % slower. */
  cost: number;
  /** Relative noise (standard deviation) of each reading. */
  noise: number;
  seed: number;
  /** Factor by which the machine is slower at reading t (t counts readings from 0). */
  drift?: (t: number) => number;
  /** The first reading after a restart is this much slower (a cold service). */
  coldPenalty?: number;
  /** Report a figure where higher is better (requests/s) instead of a time. */
  higherIsBetter?: boolean;
  /** Replace reading t. */
  tamper?: (t: number, v: number) => number;
}

/** Drives a CostMeasurement against a simulated machine; returns the decision and what it took. */
function measure(m: Machine, o: { budget: number; maxPairs?: number; restartsLeft?: number; current?: Config | null }) {
  const rand = prng(m.seed);
  const higher = m.higherIsBetter ?? false;
  const cm = new CostMeasurement(
    { budget: o.budget, higherIsBetter: higher, maxPairs: o.maxPairs ?? 12, ...(o.restartsLeft !== undefined ? { restartsLeft: o.restartsLeft } : {}) },
    o.current === undefined ? 'B' : o.current,
  );
  let t = 0;
  const decisions: CostDecision[] = [];
  const sequence: string[] = [];
  let restarts = 0;
  for (let steps = cm.next(); steps.length; steps = cm.next()) {
    for (const s of steps) {
      if (s.restart) restarts++;
      const time = 0.3 * (m.drift?.(t) ?? 1) * (s.config === 'B' ? 1 + m.cost : 1) * (1 + m.noise * gauss(rand)) * (s.restart ? 1 + (m.coldPenalty ?? 0) : 1);
      let v = higher ? 10_000 / time : time;
      if (m.tamper) v = m.tamper(t, v);
      sequence.push(s.config);
      cm.record(s, v);
      t++;
    }
    decisions.push(decideCost(cm.pairs, { budget: o.budget, higherIsBetter: higher, maxPairs: o.maxPairs ?? 12 }));
  }
  return { d: cm.decision()!, decisions, sequence: sequence.join(''), restarts, cmRestarts: cm.restarts, pairs: cm.pairs };
}

const seeds = Array.from({ length: 40 }, (_, i) => 1000 + i);

describe('order statistics', () => {
  it('gives the rank of the distribution-free bounds of the median', () => {
    expect(orderStatisticRank(4, 0.05)).toBe(0); // 1/16 > 5 %: no bound yet
    expect(orderStatisticRank(5, 0.05)).toBe(1); // 1/32
    expect(orderStatisticRank(6, 0.05)).toBe(1);
    expect(orderStatisticRank(8, 0.05)).toBe(2); // P(B <= 1) = 9/256
    expect(orderStatisticRank(12, 0.05)).toBe(3); // P(B <= 2) = 79/4096
    expect(minPairs(0.05)).toBe(6);
    expect(minPairs(0.1)).toBe(4);
  });

  it('bounds the median from the sorted pair ratios', () => {
    const pairs: Pair[] = [1.1, 1.3, 1.2, 1.25, 1.15, 1.4].map((b) => ({ a: 1, b }));
    const d = decideCost(pairs, { budget: 0.05, higherIsBetter: false, maxPairs: 12 });
    expect(d.lower).toBeCloseTo(1.1);
    expect(d.upper).toBeCloseTo(1.4);
    expect(d.ratio).toBeCloseTo(1.225);
    expect(d.confidence).toBeCloseTo(63 / 64);
    expect(d.verdict).toBe('over');
    expect(d.atBound).toBe(false);
    expect(describeCost(d)).toMatch(/^\+22\.5% \(bounds \+10\.0%\.\.\+40\.0%, spread [\d.]+%, 6 pairs; budget 5\.0%\)$/);
  });
});

describe('the decision rule on synthetic machines', () => {
  it('judges a cheap setting on a noisy machine within budget, never over', () => {
    const ds = seeds.map((seed) => measure({ cost: 0, noise: 0.03, seed }, { budget: 0.05 }).d);
    expect(ds.filter((d) => d.verdict === 'over')).toHaveLength(0);
    // most are decided by the bounds, not by the median at the bound
    expect(ds.filter((d) => !d.atBound).length).toBeGreaterThan(ds.length * 0.6);
  });

  it('judges a clearly costly setting over at the fewest pairs, whatever the noise does', () => {
    for (const seed of seeds) {
      const r = measure({ cost: 0.4, noise: 0.05, seed }, { budget: 0.05 });
      expect(r.d.verdict).toBe('over');
      expect(r.d.atBound).toBe(false);
      expect(r.d.pairs).toBe(6);
      expect(r.restarts).toBe(6); // the unit ran B: one restart per pair
    }
  });

  it('keeps a setting near the budget undecided, then decides it on the median at the bound', () => {
    const r = measure({ cost: 0.05, noise: 0.03, seed: 7 }, { budget: 0.05 });
    expect(r.decisions[0]!.verdict).toBe('undecided');
    expect(r.decisions[0]!.pairs).toBe(6);
    expect(r.d.pairs).toBe(12);
    expect(r.d.atBound).toBe(true);
    expect(['within', 'over']).toContain(r.d.verdict);
    expect(r.d.verdict).toBe(r.d.ratio > 1.05 ? 'over' : 'within');
    expect(r.restarts).toBeLessThanOrEqual(12);
    // near-budget settings across seeds: decided both ways, always at the bound or by the bounds honestly
    const ds = seeds.map((seed) => measure({ cost: 0.05, noise: 0.03, seed }, { budget: 0.05 }).d);
    expect(ds.every((d) => d.verdict !== 'undecided')).toBe(true);
    expect(ds.filter((d) => d.atBound).length).toBeGreaterThan(ds.length / 2);
  });

  it('is not fooled by a machine whose baseline rises 1 % per reading', () => {
    const drift = (t: number) => 1.01 ** t;
    const linear = (t: number) => 1 + 0.01 * t;
    for (const seed of seeds.slice(0, 10)) {
      for (const d of [drift, linear]) {
        // a free setting: the drift alone must not make it look costly, even against a 0.5 % budget
        const free = measure({ cost: 0, noise: 0.0005, seed, drift: d }, { budget: 0.005 }).d;
        expect(free.verdict).toBe('within');
        expect(Math.abs(free.ratio - 1)).toBeLessThan(0.002);
        // a costly one is measured at its true cost
        const costly = measure({ cost: 0.1, noise: 0.0005, seed, drift: d }, { budget: 0.05 }).d;
        expect(costly.verdict).toBe('over');
        expect(costly.ratio).toBeGreaterThan(1.095);
        expect(costly.ratio).toBeLessThan(1.105);
      }
    }
    // what mirroring buys: the same machine measured A B, A B, … (never mirrored) reads the drift as cost
    const naive: Pair[] = Array.from({ length: 12 }, (_, i) => ({ a: 0.3 * 1.01 ** (2 * i), b: 0.3 * 1.01 ** (2 * i + 1) }));
    expect(decideCost(naive, { budget: 0.005, higherIsBetter: false, maxPairs: 12 }).verdict).toBe('over');
  });

  it('cancels the warm-up of a restarted service the same way', () => {
    for (const seed of seeds.slice(0, 10)) {
      const d = measure({ cost: 0, noise: 0.002, seed, coldPenalty: 0.05 }, { budget: 0.02 }).d;
      expect(d.verdict).toBe('within');
      expect(Math.abs(d.ratio - 1)).toBeLessThan(0.01);
    }
  });

  it('handles the direction: a lower rate is a slowdown, a higher one is not', () => {
    const slower = measure({ cost: 0.3, noise: 0.02, seed: 3, higherIsBetter: true }, { budget: 0.05 }).d;
    expect(slower.verdict).toBe('over');
    expect(slower.ratio).toBeGreaterThan(1.2);
    const faster = measure({ cost: -0.2, noise: 0.02, seed: 3, higherIsBetter: true }, { budget: 0.05 }).d;
    expect(faster.verdict).toBe('within');
    expect(faster.ratio).toBeLessThan(0.9);
    // the same readings read as times mean the opposite
    const pairs: Pair[] = Array.from({ length: 6 }, () => ({ a: 100, b: 80 }));
    expect(decideCost(pairs, { budget: 0.05, higherIsBetter: true, maxPairs: 12 }).verdict).toBe('over');
    expect(decideCost(pairs, { budget: 0.05, higherIsBetter: false, maxPairs: 12 }).verdict).toBe('within');
  });

  it('is not swayed by one wild reading', () => {
    // a cheap setting; one B reading is 5 × slower (the machine swapped)
    const d = measure({ cost: 0, noise: 0.01, seed: 11, tamper: (t, v) => (t === 3 ? v * 5 : v) }, { budget: 0.05 }).d;
    expect(d.verdict).toBe('within');
    expect(d.ratio).toBeLessThan(1.02);
  });
});

describe('the measurement plan', () => {
  it('alternates the order inside pairs and restarts only when the configuration changes', () => {
    expect(pairOrder(0)).toEqual(['A', 'B']);
    expect(pairOrder(1)).toEqual(['B', 'A']);
    expect(pairOrder(0, 'B')).toEqual(['B', 'A']);
    const steps = measureSteps(0, 4, 'A');
    expect(steps.map((s) => `${s.config}${s.restart ? '!' : ''}`).join(' ')).toBe('A B! B A! A B! B A!');
    expect(restartsOf(steps)).toBe(4);
    expect(restartsOf(measureSteps(0, 4, null))).toBe(5); // neither runs: one more to start
  });

  it('starts with the configuration already running', () => {
    const r = measure({ cost: 0.4, noise: 0.01, seed: 1 }, { budget: 0.05, current: 'B' });
    expect(r.sequence.startsWith('BAABBAAB')).toBe(true);
    expect(r.restarts).toBe(r.d.pairs);
  });

  it('asks for the fewest pairs with bounds, then two at a time, up to the bound', () => {
    const o = { maxPairs: 12, current: 'A' as const, first: 'A' as const };
    expect(nextPairs(0, undefined, o)).toBe(6);
    const undecided = { verdict: 'undecided' } as CostDecision;
    expect(nextPairs(6, undecided, o)).toBe(2);
    expect(nextPairs(11, undecided, o)).toBe(1);
    expect(nextPairs(12, undecided, o)).toBe(0);
    expect(nextPairs(6, { verdict: 'over' } as CostDecision, o)).toBe(0);
    expect(nextPairs(0, undefined, { ...o, maxPairs: 4 })).toBe(4);
  });

  it('keeps within the restarts the user allows, and then decides on the median', () => {
    const o = { maxPairs: 12, current: 'A' as const, first: 'A' as const };
    expect(nextPairs(0, undefined, { ...o, restartsLeft: 3 })).toBe(2); // not 3: an odd pair waits for its mirror
    expect(nextPairs(0, undefined, { ...o, restartsLeft: 0 })).toBe(0);
    const r = measure({ cost: 0.05, noise: 0.03, seed: 7 }, { budget: 0.05, restartsLeft: 7 });
    expect(r.restarts).toBeLessThanOrEqual(7);
    expect(r.cmRestarts).toBe(r.restarts);
    expect(r.d.verdict).not.toBe('undecided');
    expect(r.d.atBound).toBe(true);
    const none = new CostMeasurement({ budget: 0.05, higherIsBetter: false, maxPairs: 12, restartsLeft: 0 }, null);
    expect(none.next()).toEqual([]);
    expect(none.decision()).toBeUndefined();
  });
});

describe('recorded samples (autoharden-burner in a box)', () => {
  // Wall seconds of one request (`autoharden-burner client N OP`), recorded with this rule on the
  // 2-vCPU test machine (kernel 6.18, systemd 252) while other engineers' boxes ran tunes: pairs
  // as {a: unsandboxed, b: with the setting}, in measurement order (A B | B A | …).
  const p = (xs: Array<[number, number]>): Pair[] => xs.map(([a, b]) => ({ a, b }));
  /** RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6, 2 000 000 × socket-fast (the filter inspects each call). */
  const RAF_FAST = p([[0.2191, 0.3695], [0.2192, 0.3848], [0.2256, 0.3768], [0.2397, 0.3566], [0.2212, 0.352], [0.2426, 0.3923]]);
  /** The same during a busier minute: one B reading at 0.65 s, A readings from 0.23 to 0.43 s. */
  const RAF_FAST_BUSY = p([[0.2347, 0.5806], [0.3526, 0.5751], [0.3022, 0.5524], [0.3845, 0.4367], [0.3629, 0.6523], [0.4321, 0.5024]]);
  /** MemoryDenyWriteExecute=yes, 40 000 × (socket + mmap + mprotect): real calls, a few % at most, ±10 % noise. */
  const MDWE_ALL = p([[0.4804, 0.5352], [0.6069, 0.5157], [0.5285, 0.4952], [0.4678, 0.5069], [0.4942, 0.4927], [0.4803, 0.7387],
    [0.4925, 0.5237], [0.4756, 0.5362], [0.4693, 0.7222], [0.4996, 0.5473], [0.4653, 0.5069], [0.5183, 0.5222]]);
  /** RestrictNamespaces=yes, 80 000 × socket: no call it inspects. */
  const RN_SOCKET = p([[0.3715, 0.3564], [0.4435, 0.3661], [0.3615, 0.3668], [0.3605, 0.3656], [0.374, 0.3597], [0.3446, 0.3549],
    [0.3439, 0.3495], [0.3376, 0.3516], [0.3418, 0.3572], [0.4144, 0.3721], [0.3921, 0.3608], [0.3736, 0.3734]]);
  const judge = (pairs: Pair[], budget: number) => decideCost(pairs, { budget, higherIsBetter: false, maxPairs: 12 });

  it('judges a filter on a syscall-bound loop over a small budget, within a large one', () => {
    for (const pairs of [RAF_FAST, RAF_FAST_BUSY]) {
      expect(judge(pairs, 0.01)).toMatchObject({ verdict: 'over', atBound: false });
      expect(judge(pairs, 2)).toMatchObject({ verdict: 'within', atBound: false });
      expect(judge(pairs, 0.5).verdict).toBe('undecided'); // 6 pairs cannot tell +64 % from +50 %
    }
    expect(judge(RAF_FAST, 0.01).ratio).toBeCloseTo(1.64, 1);
  });

  it('a cheap setting on a noisy machine: within a 5 % budget', () => {
    const d = judge(RN_SOCKET, 0.05);
    expect(d).toMatchObject({ verdict: 'within', atBound: false });
    expect(d.upper!).toBeLessThan(1.05);
  });

  it('a small real cost under large noise: confident only for a budget above its bounds, else decided at the bound', () => {
    expect(judge(MDWE_ALL, 0.15)).toMatchObject({ verdict: 'within', atBound: false });
    const tight = judge(MDWE_ALL, 0.05);
    expect(tight.atBound).toBe(true);
    expect(tight.verdict).toBe(tight.ratio > 1.05 ? 'over' : 'within');
    expect(judge(MDWE_ALL.slice(0, 8), 0.05).verdict).toBe('undecided');
    // a tune that prefers to keep hardening when the noise is too large to tell
    expect(decideCost(MDWE_ALL, { budget: 0.05, higherIsBetter: false, maxPairs: 12, onBound: 'within' })).toMatchObject({ verdict: 'within', atBound: true });
    expect(decideCost(MDWE_ALL, { budget: 0.05, higherIsBetter: false, maxPairs: 12, onBound: 'over' })).toMatchObject({ verdict: 'over', atBound: true });
  });
});

describe('parsing', () => {
  it('reads the workload spec forms', () => {
    expect(parseWorkloadSpec('exec:redis-benchmark -q -n 50000 -t get,set')).toEqual({
      kind: 'time', command: 'redis-benchmark -q -n 50000 -t get,set', raw: 'exec:redis-benchmark -q -n 50000 -t get,set',
    });
    const wrk = parseWorkloadSpec('higher:/Requests\\/sec:\\s+([\\d.]+)/:wrk -t1 -c16 -d2s http://127.0.0.1/');
    expect(wrk).toMatchObject({ kind: 'figure', pattern: 'Requests\\/sec:\\s+([\\d.]+)', flags: '', higherIsBetter: true, command: 'wrk -t1 -c16 -d2s http://127.0.0.1/' });
    const lat = parseWorkloadSpec('lower:/p50=([0-9.]+) [ms]/i: redis-benchmark -q -t get ');
    expect(lat).toMatchObject({ kind: 'figure', pattern: 'p50=([0-9.]+) [ms]', flags: 'i', higherIsBetter: false, command: 'redis-benchmark -q -t get' });
    // a slash in a character class needs no escape; colons in the command are kept
    expect(parseWorkloadSpec('higher:/([\\d.]+) req[/]s/:curl -s http://x:8080/')).toMatchObject({ pattern: '([\\d.]+) req[/]s', command: 'curl -s http://x:8080/' });
  });

  it('refuses bad specs with a one-line usage error', () => {
    const bad = [
      'exec:', 'exec:   ', 'redis-benchmark', 'time:ls', 'higher:ls', 'higher:/([\\d.]+):ls', 'higher:/x/ls',
      'higher:/x/g:ls', 'higher:/x/ii:ls', 'higher:/(/:ls', 'higher://:ls', 'higher:/\\d*/:ls', 'lower:/x/:',
    ];
    for (const raw of bad) {
      let err: unknown;
      try {
        parseWorkloadSpec(raw);
      } catch (e) {
        err = e;
      }
      expect(err, raw).toBeInstanceOf(AutohardenError);
      expect((err as AutohardenError).code).toBe('Usage');
      expect((err as AutohardenError).message).not.toContain('\n');
    }
  });

  it('reads the figure: first group, commas ignored, several matches by geometric mean', () => {
    const spec = parseWorkloadSpec('higher:/([\\d.,]+) requests per second/:redis-benchmark -q') as Extract<WorkloadSpec, { kind: 'figure' }>;
    const out = 'SET: 100000.00 requests per second, p50=0.199 msec\nGET: 1,600,000.00 requests per second, p50=0.1 msec\n';
    expect(figureFrom(spec, out)).toBeCloseTo(400_000, 3);
    expect(() => figureFrom(spec, 'Could not connect to Redis at 127.0.0.1:6379')).toThrow(/matched nothing.*Could not connect/);
    expect(() => figureFrom(spec, '0 requests per second')).toThrow(/not positive/);
    const whole = parseWorkloadSpec('lower:/\\d+ms/:x') as Extract<WorkloadSpec, { kind: 'figure' }>;
    expect(() => figureFrom(whole, 'took 250ms')).toThrow(/holds no number/);
    const group = parseWorkloadSpec('lower:/(\\d+)ms/:x') as Extract<WorkloadSpec, { kind: 'figure' }>;
    expect(figureFrom(group, 'took 250ms')).toBe(250);
  });

  describe('user patterns run in linear time (RE2)', () => {
    const figure = (raw: string) => parseWorkloadSpec(raw) as Extract<WorkloadSpec, { kind: 'figure' }>;
    const usage = (raw: string): AutohardenError => {
      try {
        parseWorkloadSpec(raw);
      } catch (e) {
        expect(e).toBeInstanceOf(AutohardenError);
        return e as AutohardenError;
      }
      throw new Error(`${raw} was accepted`);
    };

    it('matches a catastrophic-backtracking pattern against hostile output, and gets it right', () => {
      // A backtracking engine takes exponential time on each of these: the test just completes.
      const hostile = `7${'a'.repeat(50_000)}b`;
      expect(() => figureFrom(figure('higher:/(a+)+$/:x'), hostile)).toThrow(/matched nothing/);
      expect(() => figureFrom(figure('higher:/(\\d+)(?:a+)+$/:x'), hostile)).toThrow(/matched nothing/);
      expect(figureFrom(figure('higher:/(\\d+)(?:a+)+$/:x'), hostile.slice(0, -1))).toBe(7);
      expect(figureFrom(figure('higher:/(\\d+)(?:(?:a|aa)+)+b/:x'), `9${'a'.repeat(30_000)}b`)).toBe(9);
    });

    it('refuses at parse time, in one line, what RE2 cannot run', () => {
      for (const [raw, why] of [
        ['higher:/(\\d+)\\1/:x', /not one RE2 accepts.*\\1/],
        ['higher:/(?<n>\\d+)\\k<n>/:x', /not one RE2 accepts/],
        ['higher:/\\d+(?=ms)/:x', /not one RE2 accepts.*lookaround|\(\?=/],
        ['higher:/(?<=t=)\\d+/:x', /not one RE2 accepts/],
        ['higher:/(a{1,1000}){1,1000}/:x', /not one RE2 accepts/],
        ['higher:/(a{1,500})b/:x', /too large.*at most 200/],
      ] as const) {
        const e = usage(raw);
        expect(e.code, raw).toBe('Usage');
        expect(e.message, raw).toMatch(why);
        expect(e.message).not.toContain('\n');
      }
    });

    it('keeps the JavaScript flags and syntax figure patterns use', () => {
      expect(figureFrom(figure('lower:/P50=([0-9.]+)/i:x'), 'p50=0.25 msec')).toBe(0.25);
      expect(figureFrom(figure('higher:/^rps (\\d+)$/m:x'), 'rps 10\nrps 1000\n')).toBeCloseTo(100);
      expect(figureFrom(figure('higher:/total.(\\d+)/s:x'), 'total\n42')).toBe(42);
      expect(figureFrom(figure('higher:/(?<rps>[\\d.]+) req\\/s/u:x'), '12.5 req/s')).toBe(12.5);
    });

    it('reads only the end of a huge output, from a line start', () => {
      const spec = figure('higher:/^(\\d+) rps$/m:x');
      const head = '5 rps\n'; // out of reach: before the last MAX_FIGURE_INPUT characters
      expect(figureFrom(spec, `${head}${'x'.repeat(MAX_FIGURE_INPUT)}\n800 rps\n`)).toBe(800);
      expect(figureFrom(spec, `${head}x\n800 rps\n`)).toBeCloseTo(Math.sqrt(5 * 800)); // in reach: both count
      // a line cut in half by the limit is dropped, not read as a smaller number
      const cut = `${'9'.repeat(50)}123 rps\n${'y'.repeat(MAX_FIGURE_INPUT - 34)}\n`; // the limit falls in the 9s
      expect(() => figureFrom(spec, cut)).toThrow(/matched nothing/);
      // one line longer than the limit: only its leading digits go
      expect(figureFrom(figure('higher:/(\\d+)z$/:x'), `${'8'.repeat(MAX_FIGURE_INPUT)}x42z`)).toBe(42);
    });
  });

  it('reads budgets in percent', () => {
    expect(parseBudget('5%')).toBeCloseTo(0.05);
    expect(parseBudget('5')).toBeCloseTo(0.05);
    expect(parseBudget('0.5%')).toBeCloseTo(0.005);
    expect(parseBudget(' 12.5 % ')).toBeCloseTo(0.125);
    expect(parseBudget('0')).toBe(0);
    for (const raw of ['', '%', '-5%', '5%%', 'five', '0.05x', '1e2', '2000%']) {
      expect(() => parseBudget(raw), raw).toThrow(AutohardenError);
      try { parseBudget(raw); } catch (e) { expect((e as AutohardenError).code).toBe('Usage'); }
    }
  });
});

describe('runWorkload (the adapter, on this machine)', () => {
  it('measures the wall time of an exec: workload and reads a printed figure', async () => {
    const t = await runWorkload(parseWorkloadSpec('exec:sleep 0.2'), 5000);
    expect(t).toBeGreaterThan(0.19);
    expect(t).toBeLessThan(2);
    expect(await runWorkload(parseWorkloadSpec('higher:/([\\d.]+) requests per second/:printf "SET: 100 requests per second\\nGET: 400 requests per second\\n"'), 5000)).toBeCloseTo(200);
    expect(await runWorkload(parseWorkloadSpec('lower:/took (\\d+)ms/:echo took 250ms >&2'), 5000)).toBe(250);
  });

  it('reads the end of a flood of output, and hostile output with a backtracking-prone pattern ends', async () => {
    // 3 MiB of a body the service controls, then the figure; a 5 MiB line of 'a's, then 'b'
    const flood = 'head -c 3145728 /dev/zero | tr "\\\\0" "7"; echo; echo "rps 4321"; head -c 1048576 /dev/zero | tr "\\\\0" x >&2';
    expect(await runWorkload(parseWorkloadSpec(`higher:/^rps (\\d+)$/m:${flood}`), 20_000)).toBe(4321);
    // all of it within reach of the pattern: a backtracking engine would never finish
    const as = 'echo 7; head -c 400000 /dev/zero | tr "\\\\0" a';
    const spec = parseWorkloadSpec('higher:/(\\d+)\\n(?:a+)+\\n/:true') as Extract<WorkloadSpec, { kind: 'figure' }>;
    await expect(runWorkload({ ...spec, command: `${as}; echo b` }, 20_000)).rejects.toThrow(/matched nothing/);
    expect(await runWorkload({ ...spec, command: as }, 20_000)).toBe(7);
    // one 5 MiB line: cut to its end, still no hang
    await expect(runWorkload({ ...spec, command: 'echo 7; head -c 5242880 /dev/zero | tr "\\\\0" a; echo b' }, 20_000)).rejects.toThrow(/matched nothing/);
  });

  it('fails clearly: exit status, timeout, no figure', async () => {
    await expect(runWorkload(parseWorkloadSpec('exec:echo boom >&2; exit 3'), 5000)).rejects.toThrow(/exited with status 3: boom/);
    await expect(runWorkload(parseWorkloadSpec('exec:sleep 10'), 200)).rejects.toThrow(/timed out after 200 ms/);
    await expect(runWorkload(parseWorkloadSpec('higher:/(\\d+) rps/:echo nothing'), 5000)).rejects.toThrow(/matched nothing.*nothing/);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(runWorkload(parseWorkloadSpec('exec:sleep 10'), 5000, { signal: ac.signal })).rejects.toThrow(/aborted/);
  });

  it('does not wait for what the workload leaves behind, and ends it', async () => {
    const t0 = Date.now();
    const t = await runWorkload(parseWorkloadSpec('exec:sleep 30 & echo started'), 5000);
    expect(t).toBeLessThan(0.5);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
