// scripts/windows/check_pe.py can fail: each Memory Integrity rule is broken in
// a copy of the built x64 ioperm.sys and the checker must name it (all seven rules). Host only
// (pefile, no Wine). The build itself runs the checker on the real images.
import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devWindowsDir, packageRoot as root } from "../../lib/paths.ts";

const dir = devWindowsDir("x64");
let image: Buffer;
beforeAll(() => {
  const sign = Bun.which("osslsigncode") && Bun.which("openssl") ? [] : ["-Dsign=false"];
  const b = Bun.spawnSync(["sh", join(root, "scripts/windows/build.sh"), ...sign], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(`build failed: ${b.stderr}`);
  image = readFileSync(join(dir, "ioperm.sys"));
}, 300_000);

/** Runs the checker on `bytes`; its exit code and problem lines. */
function check(bytes: Buffer): { code: number; problems: string[] } {
  const file = join(mkdtempSync(join(tmpdir(), "pecheck-")), "ioperm.sys");
  writeFileSync(file, bytes);
  const args = ["python3", join(root, "scripts/windows/check_pe.py"), "--arch", "x64", "--pdb", join(dir, "ioperm.pdb"), file];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const problems = r.stderr
    .toString()
    .split("\n")
    .filter((l) => l.includes(": hvci: "))
    .map((l) => l.slice(l.indexOf("hvci: ")));
  return { code: r.exitCode ?? -1, problems };
}

const optionalHeader = (b: Buffer) => b.readUInt32LE(0x3c) + 24;

test("the built image passes", () => {
  expect(check(image)).toEqual({ code: 0, problems: [] });
});

test("FORCE_INTEGRITY cleared is named", () => {
  const b = Buffer.from(image);
  const at = optionalHeader(b) + 70;
  b.writeUInt16LE(b.readUInt16LE(at) & ~0x80, at);
  const r = check(b);
  expect(r.code).toBe(1);
  expect(r.problems.some((p) => p.startsWith("hvci: IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY not set"))).toBe(true);
});

test("a writable and executable .text is named", () => {
  const b = Buffer.from(image);
  const sections = optionalHeader(b) + b.readUInt16LE(b.readUInt32LE(0x3c) + 20);
  expect(b.toString("latin1", sections, sections + 5)).toBe(".text");
  b.writeUInt32LE((b.readUInt32LE(sections + 36) | 0x80000000) >>> 0, sections + 36);
  expect(check(b).problems).toContain("hvci: section .text is writable and executable");
});

test("an executable pool type (NonPagedPool, 0) at the ExAllocatePoolWithTag call is named", () => {
  const b = Buffer.from(image);
  const mov = Buffer.from([0xb9, 0x00, 0x02, 0x00, 0x00]); // mov ecx, NonPagedPoolNx
  const at = b.indexOf(mov);
  expect(at).toBeGreaterThan(0);
  expect(b.indexOf(mov, at + 1)).toBe(-1);
  b.writeUInt32LE(0, at + 1);
  expect(check(b).problems.some((p) => /^hvci: ExAllocatePoolWithTag at 0x[0-9a-f]+: pool type 0 is not an NX pool$/.test(p))).toBe(true);
});

test("NX_COMPAT cleared is named", () => {
  const b = Buffer.from(image);
  const at = optionalHeader(b) + 70;
  b.writeUInt16LE(b.readUInt16LE(at) & ~0x100, at);
  expect(check(b).problems.some((p) => p.startsWith("hvci: IMAGE_DLLCHARACTERISTICS_NX_COMPAT not set"))).toBe(true);
});

test("a SectionAlignment other than 0x1000 is named", () => {
  const b = Buffer.from(image);
  const at = optionalHeader(b) + 32; // PE32+ SectionAlignment
  expect(b.readUInt32LE(at)).toBe(0x1000);
  b.writeUInt32LE(0x2000, at);
  expect(check(b).problems).toContain("hvci: SectionAlignment 0x2000, want 0x1000");
});

test("an import of an allocator that can return executable memory is named", () => {
  const b = Buffer.from(image);
  // Rename an imported function in the hint/name table (NUL-padded to the same length).
  const name = Buffer.from("ZwQueryValueKey\0", "latin1");
  const at = b.indexOf(name);
  expect(at).toBeGreaterThan(0);
  expect(b.indexOf(name, at + 1)).toBe(-1);
  Buffer.from("MmMapIoSpace\0\0\0\0", "latin1").copy(b, at);
  expect(check(b).problems).toContain("hvci: imports MmMapIoSpace, which can allocate executable memory");
});

test("a stack guard outside a writable, non-executable section is named", () => {
  const b = Buffer.from(image);
  const sections = optionalHeader(b) + b.readUInt16LE(b.readUInt32LE(0x3c) + 20);
  const count = b.readUInt16LE(b.readUInt32LE(0x3c) + 6);
  // Make every writable section read-only: wherever the guard lives, it is no longer writable.
  let cleared = 0;
  for (let i = 0; i < count; i++) {
    const at = sections + 40 * i + 36;
    const flags = b.readUInt32LE(at);
    if (flags & 0x80000000) {
      b.writeUInt32LE((flags & ~0x80000000) >>> 0, at);
      cleared++;
    }
  }
  expect(cleared).toBeGreaterThan(0);
  expect(check(b).problems).toContain("hvci: __stack_chk_guard is not in a writable, non-executable section");
});
