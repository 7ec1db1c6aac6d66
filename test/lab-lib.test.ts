// Pure logic of the lab library (lib/lab): where its cache lives, reading QEMU's
// I/O map for clashes, the kernel release in a bzImage header, the initramfs's
// cpio archive, each against an independent reading where one exists; and the
// refusals that keep the lab's files the user's own.
import { afterAll, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LabError } from "../lib/lab/errors.ts";
import { cpioNewc, ensureInitramfs } from "../lib/lab/initramfs.ts";
import { ioClashes, ioRegions } from "../lib/lab/preflight.ts";
import { createNew, privateDir, replaceNew } from "../lib/lab/private.ts";
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

// The lab's files (lib/lab/private.ts): each test plants what another user could
// (a directory of theirs, a group-writable one, a symlink, a changed cache file)
// and shows it refused, with nothing written through it.
const isRoot = process.getuid?.() === 0;
const scratch = mkdtempSync(join(tmpdir(), "ioperm-lablib-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The LabError a promise rejects with (witness: its reason), or a failure when it resolves. */
async function labErrorOf(p: Promise<unknown>): Promise<LabError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LabError);
  return e as LabError;
}

test("a missing run or cache dir is created with mode 0700, parents too; an existing one of ours (0755) is accepted", async () => {
  const made = await privateDir(join(scratch, "new", "run"), "run dir");
  expect(made).toBe(join(scratch, "new", "run"));
  expect(statSync(made).mode & 0o7777).toBe(0o700);
  expect(statSync(join(scratch, "new")).mode & 0o7777).toBe(0o700);
  mkdirSync(join(scratch, "ours"), { mode: 0o755 });
  expect(await privateDir(join(scratch, "ours"), "run dir")).toBe(join(scratch, "ours"));
});

test("a group-writable or world-writable run dir is refused with the reason, and nothing is created in it", async () => {
  for (const mode of [0o770, 0o707]) {
    const dir = join(scratch, `mode-${mode.toString(8)}`);
    mkdirSync(dir);
    chmodSync(dir, mode);
    const e = await labErrorOf(privateDir(dir, "run dir"));
    expect(e.reason).toBe("unsafe-dir");
    expect(e.message).toContain(`lab: refusing the run dir ${dir}: it is writable by ${mode === 0o770 ? "its group" : "others"}`);
    expect(e.message).toContain("mkdir -m 700");
    expect(readdirSync(dir)).toEqual([]);
  }
});

test.skipIf(!isRoot)(
  "a run dir owned by another user (uid 65534), one below their directory, or their symlink to ours is refused (needs root for chown)",
  async () => {
    const theirs = join(scratch, "theirs");
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    const e = await labErrorOf(privateDir(theirs, "run dir"));
    expect(e.reason).toBe("unsafe-dir");
    expect(e.message).toContain(`it is owned by uid 65534, not by this user (uid 0)`);
    // Below it: they could rename our directory away and put theirs in its place.
    const below = await labErrorOf(privateDir(join(theirs, "run"), "run dir"));
    expect(below.message).toContain(`${theirs} above it is owned by uid 65534`);
    const link = join(scratch, "their-link");
    symlinkSync(join(scratch, "ours"), link);
    lchownSync(link, 65534, 65534);
    expect((await labErrorOf(privateDir(link, "run dir"))).message).toContain("it is a symlink owned by uid 65534");
  },
);

test.skipIf(!isRoot)("a lab cache owned by another user ($IOPERM_CACHE) is refused before anything is fetched or built in it", async () => {
  const cache = join(scratch, "their-cache");
  mkdirSync(cache, { mode: 0o755 });
  chownSync(cache, 65534, 65534);
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "lab", "--prepare"], {
    cwd: join(import.meta.dir, ".."),
    env: { ...process.env, IOPERM_CACHE: cache },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode).toBe(125);
  expect(r.stderr.toString()).toContain(`lab: refusing the lab cache ($IOPERM_CACHE, $XDG_CACHE_HOME/ioperm or ~/.cache/ioperm) ${cache}`);
  expect(readdirSync(cache)).toEqual([]);
});

test("a file the lab creates never goes through a planted symlink: createNew refuses it, replaceNew removes the link; the target is untouched", async () => {
  const dir = await privateDir(join(scratch, "plant"), "run dir");
  const victim = join(scratch, "victim.txt");
  writeFileSync(victim, "precious\n");
  symlinkSync(victim, join(dir, "guest.sh"));
  await expect(createNew(join(dir, "guest.sh"), "echo pwned\n")).rejects.toThrow(/EEXIST/);
  await replaceNew(join(dir, "guest.sh"), "echo ours\n");
  expect(readFileSync(victim, "utf8")).toBe("precious\n");
  expect(lstatSync(join(dir, "guest.sh")).isSymbolicLink()).toBe(false);
  expect(readFileSync(join(dir, "guest.sh"), "utf8")).toBe("echo ours\n");
  expect(statSync(join(dir, "guest.sh")).mode & 0o777).toBe(0o600);
});

test("a cached initramfs whose content changed is rebuilt, not booted (witness: its SHA-256 against the manifest written at build time)", async () => {
  const tools = { ...(await prepareLab()), cache: await privateDir(join(scratch, "cache"), "lab cache") };
  const lines: string[] = [];
  const path = await ensureInitramfs(tools, (l) => lines.push(l));
  expect(lines).toEqual(["lab: building the initramfs…"]);
  const recorded = readFileSync(`${path}.sha256`, "utf8").trim();
  const hex = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
  expect(hex(readFileSync(path))).toBe(recorded);
  // Same inputs, intact file: used as it is.
  expect(await ensureInitramfs(tools, (l) => lines.push(l))).toBe(path);
  expect(lines).toHaveLength(1);
  // One byte changed, as a user who could write the cache would change /init.
  const tampered = readFileSync(path);
  tampered.writeUInt8(tampered.readUInt8(tampered.length - 9) ^ 0xff, tampered.length - 9);
  writeFileSync(path, tampered);
  expect(await ensureInitramfs(tools, (l) => lines.push(l))).toBe(path);
  expect(lines[1]).toBe(`lab: ${path} does not match the SHA-256 recorded when it was built (${path}.sha256); rebuilding it`);
  expect(hex(readFileSync(path))).toBe(recorded);
}, 60_000);

test("a cached kernel whose content changed is refused with the reason, not booted (witness: the SHA-256 in the manifest beside it)", async () => {
  const { kernel } = await prepareLab();
  const cache = await privateDir(join(scratch, "kcache"), "lab cache");
  const pkg = kernel.dir.split("/").pop() ?? "";
  const image = join(cache, "kernel", pkg, "vmlinuz");
  mkdirSync(dirname(image), { recursive: true, mode: 0o700 });
  writeFileSync(join(cache, "kernel", "current"), `${pkg}\n`);
  const bytes = readFileSync(kernel.vmlinuz);
  writeFileSync(`${image}.sha256`, `${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}\n`);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  writeFileSync(image, bytes);
  const saved = process.env.IOPERM_CACHE;
  process.env.IOPERM_CACHE = cache;
  try {
    const e = await labErrorOf(prepareLab());
    expect(e.reason).toBe("tampered");
    expect(e.message).toContain(`lab: ${image} does not match the SHA-256 recorded when it was fetched (${image}.sha256)`);
    expect(e.message).toContain(`Delete ${dirname(image)} to fetch it again.`);
  } finally {
    if (saved === undefined) delete process.env.IOPERM_CACHE;
    else process.env.IOPERM_CACHE = saved;
  }
});
