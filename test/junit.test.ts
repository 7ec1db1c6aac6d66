// Host unit test of the JUnit reader that carries lab results to the host.
import { describe, expect, test } from "bun:test";
import { declarationSites, declaredTests, fullName, parseJunit, unreportedSites, verdict } from "./junit.ts";

test("reads passes, failures with their message, and skips", () => {
  const xml = `<?xml version="1.0"?><testsuites><testsuite name="test/lab/a.lab.ts">
<testcase name="reads &quot;QEMU&quot;" classname="fw_cfg" time="0.1" file="test/lab/a.lab.ts" line="3" assertions="1" />
<testcase name="fails" classname="x" file="test/lab/a.lab.ts"><failure message="expected 1 &lt; 2" type="AssertionError">at line 9&#10;more</failure></testcase>
<testcase name="later" classname="x" file="test/lab/a.lab.ts"><skipped /></testcase>
</testsuite></testsuites>`;
  expect(parseJunit(xml)).toEqual([
    { file: "test/lab/a.lab.ts", suite: "fw_cfg", name: 'reads "QEMU"', line: 3, status: "pass", message: "" },
    { file: "test/lab/a.lab.ts", suite: "x", name: "fails", line: 0, status: "fail", message: "expected 1 < 2\nat line 9\nmore" },
    { file: "test/lab/a.lab.ts", suite: "x", name: "later", line: 0, status: "skip", message: "" },
  ]);
});

test("fullName joins file, describe and name, without a leading ./", () => {
  expect(fullName({ file: "./test/a.test.ts", suite: "d > e", name: "n" })).toBe("test/a.test.ts > d > e > n");
  expect(fullName({ file: "test/a.test.ts", suite: "", name: "n" })).toBe("test/a.test.ts > n");
});

test("declaredTests counts test()/it() and their modifiers, not other calls", () => {
  const src = `test("a", () => {});
  test.skipIf(x)("b", () => {});
describe("d", () => {
  it("c", () => {});
  test.skip("e", () => {});
});
const t = test;
t("not counted");
// test("in a comment line is not at a line start after //")
tests("no");`;
  expect(declaredTests(src)).toBe(4);
});

test("declarationSites finds test.each and tests in loops by their line; unreportedSites names a site that registered nothing", () => {
  const src = `describe("d", () => {
  for (const n of [1, 2]) {
    test(\`loop \${n}\`, () => {});
  }
  test.each([1, 2])(
    "each %p",
    () => {},
  );
  it("last", () => {});
});`;
  expect(declarationSites(src)).toEqual([3, 5, 9]);
  // bun reports a test at the line of its name argument: 3, 3, 6, 6, 9
  const at = (...lines: number[]) => lines.map((line) => ({ line }));
  expect(unreportedSites([3, 5, 9], at(3, 3, 6, 6, 9))).toEqual([]);
  expect(unreportedSites([3, 5, 9], at(3, 3, 9))).toEqual([5]);
  expect(unreportedSites([3, 5, 9], at(3, 3, 6, 6))).toEqual([9]);
});

describe("verdict on a lab run", () => {
  const pass = (file: string, name: string, line: number) => ({ file, suite: "", name, line, status: "pass" as const, message: "" });
  const files = [
    { file: "./test/lab/a.lab.ts", sites: [3, 7] },
    { file: "./test/lab/b.lab.ts", sites: [2] },
  ];
  const all = [pass("test/lab/a.lab.ts", "1", 3), pass("test/lab/a.lab.ts", "2", 8), pass("test/lab/b.lab.ts", "1", 2)];

  test("sound: every file reported what it declares, exit 0", () => {
    expect(verdict(0, files, all)).toBe("");
  });
  test("a file that threw at import (no entries) fails the group even though the others passed", () => {
    expect(verdict(1, files, all.slice(0, 2))).toContain("./test/lab/b.lab.ts reported 0 of the 1 tests");
  });
  test("a file that reported fewer tests than it declares fails the group", () => {
    expect(verdict(0, files, all.slice(1))).toContain("./test/lab/a.lab.ts reported 1 of the 2 tests");
  });
  test("enough tests, but one declaration site reported none (a loop registered twice, a later describe threw)", () => {
    const twice = [pass("test/lab/a.lab.ts", "1", 3), pass("test/lab/a.lab.ts", "1b", 3), pass("test/lab/b.lab.ts", "1", 2)];
    expect(verdict(0, files, twice)).toBe(
      "./test/lab/a.lab.ts: the tests declared at line 7 reported nothing (did a describe() callback throw?)",
    );
  });
  test("a non-zero exit with no reported failure fails the group", () => {
    expect(verdict(1, files, all)).toContain("exited 1 although no reported test failed");
  });
  test("a non-zero exit explained by a reported failure is left to that failure", () => {
    expect(verdict(1, files, [...all.slice(0, 2), { ...pass("test/lab/b.lab.ts", "1", 2), status: "fail" }])).toBe("");
  });
  test("no results at all", () => {
    expect(verdict(0, files, [])).toBe("the lab run (exit 0) reported no tests");
  });
});
