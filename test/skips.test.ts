// Host unit test of the skip review that the test command applies (test/run.ts).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { reviewSkips, type SkipEntry } from "./skips.ts";

const list: SkipEntry[] = [{ test: "a.test.ts > d > listed", reason: "only real Windows shows it" }];

test("a listed skip is reviewed with its reason; any other skip is not", () => {
  expect(reviewSkips(["test/a.test.ts > d > listed", "test/b.test.ts > needs root"], list)).toEqual({
    reviewed: [{ test: "test/a.test.ts > d > listed", reason: "only real Windows shows it" }],
    unreviewed: ["test/b.test.ts > needs root"],
    badEntries: [],
  });
});

test("an entry without a reason reviews nothing and is itself named", () => {
  const got = reviewSkips(["x > y"], [{ test: "x > y", reason: " " }]);
  expect(got.unreviewed).toEqual(["x > y"]);
  expect(got.badEntries).toEqual(['an entry needs a test and a reason: {"test":"x > y","reason":" "}']);
});

test("the repo's list holds only the device DACL test, with its reason", () => {
  const skips = (JSON.parse(readFileSync(join(import.meta.dir, "skips.json"), "utf8")) as { skips: SkipEntry[] }).skips;
  expect(skips.map((s) => s.test.replace(/ > .*> /, " > … > "))).toEqual([
    "test/windows/driver.test.ts > … > the device DACL is the header's SDDL (skipped: Wine reports no DACL for device objects; only real Windows can show it)",
  ]);
  expect(skips.every((s) => s.reason.length > 20)).toBe(true);
});
