// The lab's tiny initramfs: a static busybox, lib/lab/init.sh and the modules
// needed to mount the host root over 9p with an overlay. It is written here as
// a newc cpio archive (no cpio tool needed) and cached in the per-user cache
// under a hash of everything that goes into it, with the SHA-256 of the archive
// itself in a manifest beside it: a cached archive that no longer matches is
// rebuilt, never booted.
import { existsSync, readdirSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { LabError } from "./errors.ts";
import { checkHash, manifestOf, recordHash, writeAtomic } from "./private.ts";
import { type Kernel, type LabTools, runBytes } from "./toolchain.ts";
import { hexDigits } from "../format.ts";

/** Load order matters: each needs the ones before it. Built-in ones are skipped. */
const modules = [
  "virtio_ring",
  "virtio",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "netfs",
  "fscache",
  "9pnet",
  "9pnet_virtio",
  "9p",
  "overlay",
];

const initScript = join(import.meta.dir, "init.sh");

/** Where each wanted module lives in the kernel package; null when built in (or the kernel has no modules at all). */
async function locateModules(kernel: Kernel): Promise<{ name: string; path: string | null }[]> {
  const modulesDir = kernel.modulesDir;
  if (modulesDir === null) return modules.map((name) => ({ name, path: null }));
  const listed = async (file: string) => (await readFile(join(modulesDir, file), "utf8").catch(() => "")).split("\n").filter(Boolean);
  const byName = new Map<string, string>();
  for (const rel of await listed("modules.order")) byName.set(basename(rel).replace(/\.ko.*$/, ""), rel);
  const builtin = new Set((await listed("modules.builtin")).map((rel) => basename(rel).replace(/\.ko.*$/, "")));

  return modules.map((name) => {
    const rel = byName.get(name);
    if (rel === undefined) {
      if (builtin.has(name)) return { name, path: null };
      throw new LabError(
        `lab: kernel ${kernel.release} has module ${name} neither as a file under ${modulesDir} nor built in; the lab needs virtio-pci, 9p and overlayfs`,
        "setup",
        "",
        "",
      );
    }
    // modules.order may name foo.ko while the package ships foo.ko.xz (or .zst).
    const stem = join(modulesDir, rel.replace(/\.ko.*$/, ".ko"));
    const path = ["", ".xz", ".zst", ".gz"].map((ext) => stem + ext).find((p) => existsSync(p));
    if (path === undefined) throw new LabError(`lab: ${stem}[.xz|.zst|.gz] is missing`, "setup", "", "");
    return { name, path };
  });
}

/** busybox insmod reads only plain .ko files, so compressed ones are unpacked here. */
async function moduleBytes(path: string): Promise<Uint8Array> {
  if (path.endsWith(".gz")) return Bun.gunzipSync(new Uint8Array(await readFile(path)));
  if (path.endsWith(".xz")) return runBytes(["xz", "-dc", path], `unpacking ${path} (needs xz)`);
  if (path.endsWith(".zst")) return runBytes(["zstd", "-dc", path], `unpacking ${path} (needs zstd)`);
  return new Uint8Array(await readFile(path));
}

/** One member of a newc ("070701") cpio archive: a directory, a file or a character device. */
type Entry = { name: string; mode: number; data?: Uint8Array; rdev?: [number, number] };

/** The newc cpio format the kernel unpacks: a 110-byte hex header, the name, the data, each padded to 4 bytes. */
export function cpioNewc(entries: Entry[]): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const pad = (n: number) => new Uint8Array((4 - (n % 4)) % 4);
  const hex = (n: number) => hexDigits(n, 8);
  [...entries, { name: "TRAILER!!!", mode: 0 }].forEach((e, i) => {
    const name = enc.encode(`${e.name}\0`);
    const size = e.data?.length ?? 0;
    const [major, minor] = e.rdev ?? [0, 0];
    const fields = [i + 1, e.mode, 0, 0, e.mode >> 12 === 0o04 ? 2 : 1, 0, size, 0, 0, major, minor, name.length, 0];
    const header = enc.encode(`070701${fields.map(hex).join("")}`);
    parts.push(header, name, pad(header.length + name.length));
    if (e.data !== undefined) parts.push(e.data, pad(size));
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Builds under way in this process, by output path. */
const building = new Map<string, Promise<void>>();

/**
 * Path of an initramfs for these tools, building it if none matches the
 * current inputs, or if the cached one's content no longer matches the SHA-256
 * recorded when it was built. Safe to call from parallel runs: the file and
 * its manifest appear by atomic rename, and a build's bytes depend only on its inputs.
 */
export async function ensureInitramfs(tools: LabTools, progress: (line: string) => void): Promise<string> {
  const { kernel, busybox, cache } = tools;
  const located = await locateModules(kernel);
  const hash = new Bun.CryptoHasher("sha256");
  hash.update(await readFile(initScript));
  hash.update(await readFile(busybox));
  hash.update(`${kernel.dir}\n${kernel.release}\n${located.map((m) => `${m.name}=${m.path}`).join("\n")}`);
  for (const m of located) if (m.path !== null) hash.update(await readFile(m.path));
  const key = hash.digest("hex").slice(0, 16);
  const out = join(cache, `initramfs-${key}.cpio.gz`);
  const cached = await checkHash(out);
  if (cached === "ok") return out;
  if (cached === "mismatch")
    progress(`lab: ${out} does not match the SHA-256 recorded when it was built (${manifestOf(out)}); rebuilding it`);

  // Parallel runs in this process share one build; other processes write their
  // own temporary file and the last rename wins, harmlessly.
  let build = building.get(out);
  if (build === undefined) {
    progress("lab: building the initramfs…");
    build = buildInitramfs(busybox, located, out).finally(() => building.delete(out));
    building.set(out, build);
  }
  await build;
  return out;
}

async function buildInitramfs(busybox: string, located: { name: string; path: string | null }[], out: string): Promise<void> {
  const dir = (name: string): Entry => ({ name, mode: 0o040755 });
  const entries: Entry[] = [
    ...["bin", "dev", "proc", "sys", "lib", "lib/modules"].map(dir),
    // The kernel opens /dev/console before running /init.
    { name: "dev/console", mode: 0o020600, rdev: [5, 1] },
    { name: "bin/busybox", mode: 0o100755, data: new Uint8Array(await readFile(busybox)) },
    { name: "init", mode: 0o100755, data: new Uint8Array(await readFile(initScript)) },
  ];
  const loaded: string[] = [];
  for (const m of located) {
    if (m.path === null) continue;
    entries.push({ name: `lib/modules/${m.name}.ko`, mode: 0o100644, data: await moduleBytes(m.path) });
    loaded.push(m.name);
  }
  entries.push({ name: "lib/modules/load.order", mode: 0o100644, data: new TextEncoder().encode(`${loaded.join("\n")}\n`) });
  const archive = Bun.gzipSync(cpioNewc(entries), { level: 6 });
  // The manifest first: a reader that sees the new archive also sees its hash.
  await recordHash(out, archive);
  await writeAtomic(out, archive);
  // Older initramfs files are dead weight once their inputs have changed.
  for (const name of readdirSync(dirname(out))) {
    const stale = /^initramfs-[0-9a-f]{16}\.cpio\.gz(\.sha256)?$/.exec(name);
    if (stale !== null && name !== basename(out) && name !== basename(manifestOf(out))) await rm(join(dirname(out), name), { force: true });
  }
}
