// Host tests of probe.ts where this kernel cannot do port I/O: it must say so,
// say how to go on, exit non-zero, and keep --json valid against its schema.
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../lib/paths.ts";
import { parseSections, SECTIONS } from "ioperm/probe";
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

test("`ioperm probe` surveys in its own process, starting no second Bun (witness: the execve calls strace sees)", () => {
  const log = join(tmpdir(), `probe-execve-${process.pid}.log`);
  try {
    const r = Bun.spawnSync(["strace", "-f", "-qq", "-e", "trace=execve", "-o", log, process.execPath, "lib/cli.ts", "probe", "--help"], {
      cwd: packageRoot,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("ioperm-probe [--json] [--only");
    const execs = readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => /\bexecve\(/.test(l) && / = 0$/.test(l));
    expect(execs).toHaveLength(1);
    expect(execs[0]).toContain('"lib/cli.ts", "probe", "--help"');
  } finally {
    rmSync(log, { force: true });
  }
});

test("ioperm/probe parses --only's list as the probe does: every section in order, and an unknown one refused with the choices", () => {
  expect([...parseSections(SECTIONS.join(","))]).toEqual([...SECTIONS]);
  expect([...parseSections(" lpt, pci ,")]).toEqual(["lpt", "pci"]);
  expect(() => parseSections("lpt,bogus")).toThrow(new RangeError(`unknown section "bogus"; choose from ${SECTIONS.join(", ")}`));
});
