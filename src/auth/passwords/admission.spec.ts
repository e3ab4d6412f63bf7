import { describe, expect, test } from '@jest/globals';
import { Admission } from './admission.js';

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

describe('Admission', () => {
  test('runs at most `concurrency` at once, queues up to `queue`, refuses the rest at once', async () => {
    const admission = new Admission(2, 1, () => new Error('full'));
    let running = 0;
    let most = 0;
    const gates = [gate(), gate(), gate()];
    const task = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await gates[i].opened;
      running--;
      return i;
    };
    const results = [0, 1, 2].map((i) => admission.run(task(i)));
    await expect(admission.run(async () => 99)).rejects.toThrow('full');
    gates.forEach((g) => g.open());
    expect(await Promise.all(results)).toEqual([0, 1, 2]);
    expect(most).toBe(2);
    // Slots are given back, failures included.
    await expect(admission.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await Promise.all([admission.run(async () => 'a'), admission.run(async () => 'b'), admission.run(async () => 'c')])).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});
