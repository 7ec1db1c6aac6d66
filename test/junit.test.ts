// Host unit test of the JUnit reader that carries lab results to the host.
import { describe, expect, test } from "bun:test";
import { declaredTests, parseJunit, verdict } from "./junit.ts";

test("reads passes, failures with their message, and skips", () => {
  const xml = `<?xml version="1.0"?><testsuites><testsuite name="test/lab/a.lab.ts">
<testcase name="reads &quot;QEMU&quot;" classname="fw_cfg" time="0.1" file="test/lab/a.lab.ts" line="3" assertions="1" />
<testcase name="fails" classname="x" file="test/lab/a.lab.ts"><failure message="expected 1 &lt; 2" type="AssertionError">at line 9&#10;more</failure></testcase>
<testcase name="later" classname="x" file="test/lab/a.lab.ts"><skipped /></testcase>
</testsuite></testsuites>`;
  expect(parseJunit(xml)).toEqual([
    { file: "test/lab/a.lab.ts", name: 'reads "QEMU"', status: "pass", message: "" },
    { file: "test/lab/a.lab.ts", name: "fails", status: "fail", message: "expected 1 < 2\nat line 9\nmore" },
    { file: "test/lab/a.lab.ts", name: "later", status: "skip", message: "" },
  ]);
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

describe("verdict on a lab run", () => {
  const pass = (file: string, name: string) => ({ file, name, status: "pass" as const, message: "" });
  const files = [
    { file: "./test/lab/a.lab.ts", declared: 2 },
    { file: "./test/lab/b.lab.ts", declared: 1 },
  ];
  const all = [pass("test/lab/a.lab.ts", "1"), pass("test/lab/a.lab.ts", "2"), pass("test/lab/b.lab.ts", "1")];

  test("sound: every file reported what it declares, exit 0", () => {
    expect(verdict(0, files, all)).toBe("");
  });
  test("a file that threw at import (no entries) fails the group even though the others passed", () => {
    expect(verdict(1, files, all.slice(0, 2))).toContain("./test/lab/b.lab.ts reported 0 of the 1 tests");
  });
  test("a file that reported fewer tests than it declares fails the group", () => {
    expect(verdict(0, files, all.slice(1))).toContain("./test/lab/a.lab.ts reported 1 of the 2 tests");
  });
  test("a non-zero exit with no reported failure fails the group", () => {
    expect(verdict(1, files, all)).toContain("exited 1 although no reported test failed");
  });
  test("a non-zero exit explained by a reported failure is left to that failure", () => {
    expect(verdict(1, files, [...all.slice(0, 2), { ...pass("test/lab/b.lab.ts", "1"), status: "fail" }])).toBe("");
  });
  test("no results at all", () => {
    expect(verdict(0, files, [])).toBe("the lab run (exit 0) reported no tests");
  });
});
