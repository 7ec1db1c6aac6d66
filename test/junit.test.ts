// Host unit test of the JUnit reader that carries lab results to the host.
import { expect, test } from "bun:test";
import { parseJunit } from "./junit.ts";

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
