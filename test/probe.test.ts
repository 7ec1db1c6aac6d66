// Host tests of probe.ts where this kernel cannot do port I/O: it must say so,
// say how to go on, exit non-zero, and keep --json valid against its schema.
import { expect, test } from "bun:test";
import { schemaErrors, validateProbe } from "./schema.ts";

const run = (...args: string[]) => Bun.spawnSync([process.execPath, "probe.ts", ...args], { cwd: `${import.meta.dir}/..` });

test.skipIf(process.env.IOPERM_LAB === "1")("without port I/O: exit 2, the reason, and the --vm hint", () => {
  const r = run();
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("port I/O is not available here");
  expect(r.stderr.toString()).toContain("bun run probe.ts --vm");
});

test.skipIf(process.env.IOPERM_LAB === "1")("--json failure output validates against probe.schema.json", () => {
  const r = run("--json");
  expect(r.exitCode).toBe(2);
  const doc = JSON.parse(r.stdout.toString());
  expect(validateProbe(doc) ? "" : schemaErrors()).toBe("");
  expect(doc.error.code).toMatch(/NO_BACKEND|EPERM|ENOSYS/);
});

test("bad arguments are refused with usage errors", () => {
  expect(run("--only", "lpt,bogus").exitCode).toBe(64);
  expect(run("--nonsense").exitCode).not.toBe(0);
});

test("a report missing required fields fails the schema (the schema is not vacuous)", () => {
  expect(validateProbe({ schema: "ioperm-probe/1", host: {}, machine: {}, notes: [] })).toBe(false);
  expect(validateProbe({ schema: "ioperm-probe/2", error: { code: "X", message: "y" } })).toBe(false);
});
