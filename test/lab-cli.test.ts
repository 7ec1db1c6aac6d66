// The lab command's contract (bun scripts/lab.ts): its exit codes and the names
// of the files extra devices write. Each case boots (or fails to boot) QEMU.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";

const out = mkdtempSync(join(tmpdir(), "ioperm-labcli-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function lab(args: string[]) {
  const r = Bun.spawnSync([process.execPath, "scripts/lab.ts", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("exit 124 when the run outlives --timeout, and QEMU is killed", () => {
  const r = lab(["--timeout", "3", "--out", join(out, "timeout"), "--", "sleep", "600"]);
  expect(r.code).toBe(124);
  expect(r.stderr).toContain("timed out after 3 s");
  expect(r.stderr).toContain("QEMU was killed");
}, 60_000);

test("exit 125 when the lab itself fails (QEMU refuses its arguments)", () => {
  const r = lab(["--qemu", "-no-such-option", "--out", join(out, "bad"), "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toContain("QEMU exited");
  expect(r.stderr).toContain("-no-such-option");
}, 60_000);

test("the command's own exit code comes back, and an extra isa-parallel writes <run>/isa-parallel@0x278.out (witness: the byte strobed out through Debian's outb)", () => {
  const run = join(out, "lpt2");
  const strobe = "outb 0x278 0x5a && outb 0x27a 0x0c && outb 0x27a 0x0d && outb 0x27a 0x0c && exit 7";
  const r = lab(["--device", "isa-parallel,iobase=0x278,irq=5,index=1", "--out", run, "--", "sh", "-c", strobe]);
  expect(r.code).toBe(7);
  const files = JSON.parse(readFileSync(join(run, "files.json"), "utf8")) as Record<string, string>;
  expect(files["isa-parallel@0x278"]).toBe(join(run, "isa-parallel@0x278.out"));
  expect(existsSync(join(run, "isa-parallel@0x278.out"))).toBe(true);
  expect([...readFileSync(join(run, "isa-parallel@0x278.out"))]).toEqual([0x5a]);
}, 120_000);
