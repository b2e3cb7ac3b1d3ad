/** The `count` lowest instance numbers ≥ 1 not in `used` (spec §1: lowest unused by the deploy's tasks). */
export function lowestFreeInstanceNumbers(used: Iterable<number>, count: number): number[] {
  const taken = new Set(used);
  const out: number[] = [];
  for (let n = 1; out.length < count; n++) if (!taken.has(n)) out.push(n);
  return out;
}
