// Pure logic of the lab library (lib/lab): where its cache lives, reading QEMU's
// I/O map for clashes, the kernel release in a bzImage header, and the initramfs's
// cpio archive, each against an independent reading where one exists.
import { expect, test } from "bun:test";
import { homedir } from "node:os";
import { join } from "node:path";
import { cpioNewc } from "../lib/lab/initramfs.ts";
import { ioClashes, ioRegions } from "../lib/lab/preflight.ts";
import { bzImageRelease, labCacheDir, prepareLab } from "../lib/lab/toolchain.ts";

test("the per-user cache: $IOPERM_CACHE, else $XDG_CACHE_HOME/ioperm (absolute only, as the XDG spec says), else ~/.cache/ioperm", () => {
  expect(labCacheDir({ IOPERM_CACHE: "/x/c", XDG_CACHE_HOME: "/y" })).toBe("/x/c");
  expect(labCacheDir({ XDG_CACHE_HOME: "/y" })).toBe("/y/ioperm");
  expect(labCacheDir({ XDG_CACHE_HOME: "relative" })).toBe(join(homedir(), ".cache", "ioperm"));
  expect(labCacheDir({})).toBe(join(homedir(), ".cache", "ioperm"));
});

// An excerpt of QEMU 7.2's `info mtree` for -M pc with a second parallel port at 0x37a.
const mtree = `address-space: VGA
  0000000000000000-ffffffffffffffff (prio 0, RW): vga
address-space: I/O
  0000000000000000-000000000000ffff (prio 0, i/o): io
      0000000000000000-0000000000000003 (prio 0, i/o): acpi-evt
    0000000000000060-0000000000000060 (prio 0, i/o): i8042-data
    0000000000000378-000000000000037f (prio 0, i/o): parallel
    000000000000037a-0000000000000381 (prio 0, i/o): parallel
    0000000000000cf8-0000000000000cfb (prio 0, i/o): pci-conf-idx
    0000000000000cf9-0000000000000cf9 (prio 1, i/o): piix3-reset-control

address-space: PIIX4_PM
  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container
`;

test("QEMU's I/O map: the regions directly under io, and clashes only between equal priorities", () => {
  const regions = ioRegions(mtree);
  expect(regions.map((r) => r.name)).toEqual(["i8042-data", "parallel", "parallel", "pci-conf-idx", "piix3-reset-control"]);
  const clashes = ioClashes(regions);
  expect(clashes.map(([a, b]) => [a.start, b.start])).toEqual([[0x378, 0x37a]]);
  expect(ioRegions("no such section")).toEqual([]);
});

test("the kernel release in a bzImage's setup header is the Debian package's version (witness: the package name)", async () => {
  const { kernel } = await prepareLab();
  const pkg = kernel.dir.split("/").pop() ?? "";
  expect(pkg.startsWith("linux-image-")).toBe(true);
  expect(await bzImageRelease(kernel.vmlinuz)).toBe(pkg.replace("linux-image-", ""));
  expect(await bzImageRelease(join(import.meta.dir, "..", "package.json"))).toBeNull();
});

const cpio = Bun.which("cpio");
test.skipIf(cpio === null)(
  "the initramfs archive reads back with GNU cpio: names, modes, sizes and a device node (needs Debian's cpio)",
  () => {
    const data = new TextEncoder().encode("#!/bin/sh\necho hi\n");
    const archive = cpioNewc([
      { name: "bin", mode: 0o040755 },
      { name: "init", mode: 0o100755, data },
      { name: "dev/console", mode: 0o020600, rdev: [5, 1] },
    ]);
    const r = Bun.spawnSync([cpio ?? "cpio", "-itv", "--quiet"], { stdin: archive, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^drwxr-xr-x .* bin$/);
    expect(lines[1]).toMatch(new RegExp(`^-rwxr-xr-x .* ${data.length} .* init$`));
    expect(lines[2]).toMatch(/^crw------- .* 5,\s+1 .* dev\/console$/);
  },
);
