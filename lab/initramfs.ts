// The lab's kernel and its tiny initramfs: busybox, lab/init.sh and the
// modules needed to mount the host root over 9p with an overlay. The initramfs is
// cached in .cache/lab/ under a hash of everything that goes into it.
import { existsSync, readdirSync } from "node:fs";
import { copyFile, chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

export { packageRoot as projectRoot } from "../lib/paths.ts";
import { packageRoot as projectRoot } from "../lib/paths.ts";
export const labCache = join(projectRoot, ".cache", "lab");

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

const busybox = "/bin/busybox";
const initScript = join(import.meta.dir, "init.sh");

export interface Kernel {
  /** The unpacked Debian package, e.g. .cache/kernel/linux-image-6.1.0-56-amd64. */
  dir: string;
  vmlinuz: string;
  /** `uname -r` in the guest. */
  release: string;
  /** This kernel's /lib/modules/<release> on the host. */
  modulesDir: string;
}

/** The kernel scripts/bootstrap.sh --lab unpacked (named in .cache/kernel/current). */
export async function findKernel(): Promise<Kernel> {
  const current = join(projectRoot, ".cache", "kernel", "current");
  const remedy = "run `sh scripts/bootstrap.sh --lab` first";
  if (!existsSync(current)) throw new Error(`lab: no kernel (${current} is missing); ${remedy}`);
  const dir = (await readFile(current, "utf8")).trim();
  const vmlinuz = join(dir, "vmlinuz");
  if (!existsSync(vmlinuz)) throw new Error(`lab: ${vmlinuz} is missing; ${remedy}`);
  const releases = existsSync(join(dir, "lib", "modules")) ? readdirSync(join(dir, "lib", "modules")) : [];
  const release = releases[0];
  if (releases.length !== 1 || release === undefined) {
    throw new Error(`lab: expected one release under ${dir}/lib/modules, found [${releases.join(", ")}]; ${remedy}`);
  }
  return { dir, vmlinuz, release, modulesDir: join(dir, "lib", "modules", release) };
}

/** Where each wanted module lives in the kernel package; null when built in. */
async function locateModules(kernel: Kernel): Promise<{ name: string; path: string | null }[]> {
  const listed = async (file: string) =>
    (await readFile(join(kernel.modulesDir, file), "utf8").catch(() => "")).split("\n").filter(Boolean);
  const byName = new Map<string, string>();
  for (const rel of await listed("modules.order")) byName.set(basename(rel).replace(/\.ko.*$/, ""), rel);
  const builtin = new Set((await listed("modules.builtin")).map((rel) => basename(rel).replace(/\.ko.*$/, "")));

  return modules.map((name) => {
    const rel = byName.get(name);
    if (rel === undefined) {
      if (builtin.has(name)) return { name, path: null };
      throw new Error(`lab: kernel ${kernel.release} has module ${name} neither as a file nor built in`);
    }
    // modules.order may name foo.ko while the package ships foo.ko.xz (or .zst).
    const stem = join(kernel.modulesDir, rel.replace(/\.ko.*$/, ".ko"));
    const path = ["", ".xz", ".zst", ".gz"].map((ext) => stem + ext).find((p) => existsSync(p));
    if (path === undefined) throw new Error(`lab: ${stem}[.xz|.zst|.gz] is missing`);
    return { name, path };
  });
}

async function run(cmd: string[], what: string): Promise<Uint8Array> {
  const proc = Bun.spawn({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, status] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
  if (status !== 0) throw new Error(`lab: ${what} failed (${cmd.join(" ")}, status ${status}): ${err.trim()}`);
  return out;
}

/** busybox insmod reads only plain .ko files, so compressed ones are unpacked here. */
async function moduleBytes(path: string): Promise<Uint8Array> {
  if (path.endsWith(".xz")) return run(["xz", "-dc", path], `unpacking ${path}`);
  if (path.endsWith(".zst")) return run(["zstd", "-dc", path], `unpacking ${path}`);
  if (path.endsWith(".gz")) return run(["gzip", "-dc", path], `unpacking ${path}`);
  return new Uint8Array(await readFile(path));
}

/** Builds under way in this process, by output path. */
const building = new Map<string, Promise<void>>();

/**
 * Path of an initramfs for `kernel`, building it if none matches the current
 * inputs. Safe to call from parallel runs: the file appears by atomic rename.
 */
export async function ensureInitramfs(kernel: Kernel, progress: (line: string) => void): Promise<string> {
  if (!existsSync(busybox)) throw new Error(`lab: ${busybox} is missing; run \`sh scripts/bootstrap.sh --lab\``);
  const located = await locateModules(kernel);
  const hash = new Bun.CryptoHasher("sha256");
  hash.update(await readFile(initScript));
  hash.update(await readFile(busybox));
  hash.update(`${kernel.dir}\n${kernel.release}\n${located.map((m) => `${m.name}=${m.path}`).join("\n")}`);
  const key = hash.digest("hex").slice(0, 16);
  const out = join(labCache, `initramfs-${key}.cpio.gz`);
  if (existsSync(out)) return out;

  // Parallel runs in this process share one build; other processes build their
  // own copy in a private stage and the last rename wins, harmlessly.
  let build = building.get(out);
  if (build === undefined) {
    build = buildInitramfs(located, out).finally(() => building.delete(out));
    building.set(out, build);
    progress("lab: building initramfs…");
  }
  await build;
  return out;
}

async function buildInitramfs(located: { name: string; path: string | null }[], out: string): Promise<void> {
  const stage = `${out}.${process.pid}-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await stageAndPack(located, stage, out);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  // Older initramfs files are dead weight once their inputs have changed.
  for (const name of readdirSync(labCache)) {
    if (/^initramfs-[0-9a-f]{16}\.cpio\.gz$/.test(name) && name !== basename(out)) {
      await rm(join(labCache, name), { force: true });
    }
  }
}

async function stageAndPack(located: { name: string; path: string | null }[], stage: string, out: string): Promise<void> {
  const moduleDir = join(stage, "root", "lib", "modules");
  await mkdir(moduleDir, { recursive: true });
  for (const dir of ["bin", "dev", "proc", "sys"]) await mkdir(join(stage, "root", dir), { recursive: true });
  await copyFile(busybox, join(stage, "root", "bin", "busybox"));
  await copyFile(initScript, join(stage, "root", "init"));
  await chmod(join(stage, "root", "init"), 0o755);
  const loaded: string[] = [];
  for (const m of located) {
    if (m.path === null) continue;
    await writeFile(join(moduleDir, `${m.name}.ko`), await moduleBytes(m.path));
    loaded.push(m.name);
  }
  await writeFile(join(moduleDir, "load.order"), `${loaded.join("\n")}\n`);

  const archive = join(stage, "initramfs.cpio.gz");
  await run(
    ["sh", "-c", 'cd "$1/root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -6 >"$2"', "sh", stage, archive],
    "packing the initramfs (needs cpio and gzip)",
  );
  await rename(archive, out);
}
