// Host unit tests of the command line's pure parts: the dispatcher, number
// parsing, the isadump-style table and the register decoding `watch` prints.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { main } from "../lib/cli.ts";
import { parseNumber, splitOptions, UsageError } from "../lib/cli/args.ts";
import { dumpTable } from "../lib/cli/dump.ts";
import { decodeRegister } from "../lib/cli/watch.ts";

test("numbers: hex 0x… or decimal, within bounds; anything else is a usage error", () => {
  expect(parseNumber("0x378", "PORT", 0xffff)).toBe(0x378);
  expect(parseNumber("888", "PORT", 0xffff)).toBe(888);
  for (const bad of ["0x10000", "-1", "3.5", "0x", "378h", ""]) expect(() => parseNumber(bad, "PORT", 0xffff)).toThrow(UsageError);
  expect(() => splitOptions(["--backend", "magic"])).toThrow(UsageError);
  expect(() => splitOptions(["--nope"])).toThrow(UsageError);
  expect(splitOptions(["0x80", "--json", "--backend", "devport"])).toEqual({ json: true, backend: "devport", values: {}, rest: ["0x80"] });
});

test("splitOptions: only a --name is an option, and an option's value may not be the next option", () => {
  // "xxinterval" is a positional whose tail happens to name an option; it used to be read as --interval.
  expect(splitOptions(["xxinterval", "5"], ["interval"])).toEqual({ json: false, backend: "auto", values: {}, rest: ["xxinterval", "5"] });
  expect(splitOptions(["--interval", "5", "0x80"], ["interval"]).values).toEqual({ interval: "5" });
  expect(() => splitOptions(["--interval", "--count", "3"], ["interval", "count"])).toThrow(
    "--interval wants a value, but the next argument is the option --count",
  );
  expect(() => splitOptions(["--backend", "--json"])).toThrow("--backend wants a value, but the next argument is the option --json");
});

test("dumpTable: rows of 16 from the aligned address, blanks outside the range", () => {
  expect(dumpTable(0x378, [0xac, 0xd9, 0xcc]).split("\n")).toEqual([
    "       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f",
    "0370:                         ac d9 cc               ",
  ]);
});

test("decodeRegister names LPT and UART status bits at the legacy bases, nothing elsewhere", () => {
  expect(decodeRegister(0x37a, 0xcd)).toMatchObject({ register: "LPT 0x378 control", bits: { strobe: true, autoFeed: false } });
  expect(decodeRegister(0x3fd, 0x60)).toMatchObject({
    register: "UART 0x3f8 LSR",
    bits: { thrEmpty: true, txEmpty: true, dataReady: false },
  });
  expect(decodeRegister(0x2fe, 0xb1)).toEqual({
    register: "UART 0x2f8 MSR",
    bits: { dCTS: true, dDSR: false, trailingRI: false, dDCD: false, CTS: true, DSR: true, RI: false, DCD: true },
  });
  expect(decodeRegister(0x80, 0x12)).toBeNull();
});

test("the dispatcher: unknown command and no command are usage errors (64); help is 0", async () => {
  expect(await main(["nope"])).toBe(64);
  expect(await main([])).toBe(64);
  expect(await main(["help"])).toBe(0);
  expect(await main(["inb"])).toBe(64);
});

test("help lists every command with its summary, one line each, in a process of its own (witness: lib/cli/ on disk)", () => {
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "help"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const lines = r.stdout.toString().split("\n");
  expect(lines[0]).toBe("usage: ioperm <command> [options]");
  const listed = lines.filter((l) => /^ {2}\S/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
  // Every command module on disk is listed (io.ts serves the six port commands).
  const modules = readdirSync(join(root, "lib/cli"))
    .filter((f) => f.endsWith(".ts") && readFileSync(join(root, "lib/cli", f), "utf8").includes("export const command"))
    .map((f) => f.replace(/\.ts$/, ""));
  expect(modules.length).toBeGreaterThan(5);
  for (const m of modules) expect(listed).toContain(m);
  for (const io of ["inb", "inw", "inl", "outb", "outw", "outl"]) expect(listed).toContain(io);
  // and each has a summary, not just a name
  for (const l of lines.filter((l) => /^ {2}\S/.test(l))) expect(l.trim().split(/\s{2,}/).length).toBeGreaterThanOrEqual(2);
});
