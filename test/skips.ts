// The skip review of test/run.ts, as pure logic.

/** An entry of test/skips.json: a test's full name (or its end) and why it may skip. */
export interface SkipEntry {
  test: string;
  reason: string;
}

/**
 * Sorts the skips that ran into reviewed (on the list, with a reason) and
 * unreviewed, and names list entries that are unusable (no reason, no name).
 */
export function reviewSkips(
  skipped: string[],
  list: SkipEntry[],
): { reviewed: { test: string; reason: string }[]; unreviewed: string[]; badEntries: string[] } {
  const usable = list.filter((e) => e.test.trim() !== "" && e.reason.trim() !== "");
  const badEntries = list.filter((e) => !usable.includes(e)).map((e) => `an entry needs a test and a reason: ${JSON.stringify(e)}`);
  const reviewed: { test: string; reason: string }[] = [];
  const unreviewed: string[] = [];
  for (const test of skipped) {
    const entry = usable.find((e) => test.endsWith(e.test));
    if (entry) reviewed.push({ test, reason: entry.reason });
    else unreviewed.push(test);
  }
  return { reviewed, unreviewed, badEntries };
}
