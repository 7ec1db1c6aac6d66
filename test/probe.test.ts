// Host tests of probe.ts where this kernel cannot do port I/O: it must say so,
// say how to go on, exit non-zero, and keep --json valid against its schema.
import { expect, test } from "bun:test";
import { packageRoot } from "../lib/paths.ts";
import { expectedRefusal } from "./kernel.ts";
import { schemaErrors, validateProbe } from "./schema.ts";

const run = (...args: string[]) => Bun.spawnSync([process.execPath, "probe.ts", ...args], { cwd: packageRoot });

test.skipIf(expectedRefusal === null)("without port I/O: exit 2, the reason, and the --vm hint", () => {
  const r = run();
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("port I/O is not available here");
  expect(r.stderr.toString()).toContain("To survey the lab VM's hardware instead: bun lib/cli.ts probe --vm");
});

test.skipIf(expectedRefusal === null)("--json failure output validates against probe.schema.json", () => {
  const r = run("--json");
  expect(r.exitCode).toBe(2);
  const doc = JSON.parse(r.stdout.toString());
  expect(validateProbe(doc) ? "" : schemaErrors()).toBe("");
  expect(doc.error.code).toBe(expectedRefusal as string); // what the kernel said, asked without the library
});

test("bad arguments are refused with exit 64 and the usage text", () => {
  const section = run("--only", "lpt,bogus");
  expect(section.exitCode).toBe(64);
  expect(section.stderr.toString()).toContain('unknown section "bogus"');
  const option = run("--nonsense");
  expect(option.exitCode).toBe(64);
  expect(option.stderr.toString()).toContain("Unknown option '--nonsense'");
  expect(option.stderr.toString()).toContain("ioperm-probe [--json] [--only");
});

test("a report missing required fields fails the schema (the schema is not vacuous)", () => {
  expect(validateProbe({ schema: "ioperm-probe/1", host: {}, machine: {}, notes: [] })).toBe(false);
  expect(validateProbe({ schema: "ioperm-probe/2", error: { code: "X", message: "y" } })).toBe(false);
});
