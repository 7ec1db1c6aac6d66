/**
 * What the lab needs on the host, found or installed on first use into a
 * per-user cache: QEMU (a Debian package, installed through apt), a static
 * busybox and the Debian kernel (both fetched with `apt-get download` and
 * unpacked with `dpkg-deb -x`, so neither needs root). Where apt is missing,
 * the error says exactly what to install, and `kernel` (the CLI's --kernel)
 * takes the user's own kernel.
 */
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir, release as osRelease } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { LabError } from "./errors.ts";
import { checkHash, manifestOf, privateDir, recordHash, writeAtomic } from "./private.ts";

/** The Debian kernel package the lab boots unless told otherwise (a metapackage naming the current one). */
export const kernelMetaPackage = "linux-image-amd64";
/** The Debian package of QEMU's x86 system emulator. */
export const qemuPackage = "qemu-system-x86";

/**
 * The per-user cache: $IOPERM_CACHE, else $XDG_CACHE_HOME/ioperm, else
 * ~/.cache/ioperm. It holds the kernel, busybox, the initramfs and the run dirs.
 * It must belong to the user running the lab and be closed to group and others
 * (see privateDir); the lab creates it with mode 0700.
 */
export function labCacheDir(env: Record<string, string | undefined> = process.env): string {
  const { IOPERM_CACHE: own, XDG_CACHE_HOME: xdg } = env;
  if (own) return resolve(own);
  if (xdg && isAbsolute(xdg)) return join(xdg, "ioperm");
  return join(homedir(), ".cache", "ioperm");
}

/** A kernel the lab can boot. */
export interface Kernel {
  /** The unpacked package (or the directory given), e.g. <cache>/kernel/linux-image-6.1.0-56-amd64. */
  dir: string;
  vmlinuz: string;
  /** `uname -r` in the guest. */
  release: string;
  /** This kernel's modules on the host (lib/modules/<release>), or null when it has none: everything is built in. */
  modulesDir: string | null;
}

/** Everything a boot needs, found or installed. */
export interface LabTools {
  cache: string;
  qemu: string;
  /** e.g. "7.2.22". */
  qemuVersion: string;
  /** A statically linked busybox, the initramfs's only program. */
  busybox: string;
  kernel: Kernel;
}

type Progress = (line: string) => void;

const setupError = (message: string) => new LabError(message, "setup", "", "");

/** Runs a command, resolving with its stdout; a LabError ("setup") naming `what` when it fails or cannot start. */
export async function runBytes(cmd: string[], what: string, opts: { cwd?: string } = {}): Promise<Uint8Array> {
  let proc: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  try {
    proc = Bun.spawn({ cmd, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw setupError(`lab: ${what} failed: cannot run ${cmd[0]} (${(e as Error).message})`);
  }
  const [out, err, status] = await Promise.all([new Response(proc.stdout).bytes(), new Response(proc.stderr).text(), proc.exited]);
  if (status !== 0) throw setupError(`lab: ${what} failed (${cmd.join(" ")}, status ${status}): ${err.trim()}`);
  return out;
}

const run = async (cmd: string[], what: string, opts: { cwd?: string } = {}) => new TextDecoder().decode(await runBytes(cmd, what, opts));

const isRoot = () => process.getuid?.() === 0;
const hasApt = () => Bun.which("apt-get") !== null && Bun.which("dpkg-deb") !== null;

const installHint = (debian: string, others: string) =>
  `Install it and run again: Debian/Ubuntu \`sudo apt-get install ${debian}\`; ${others}.`;

/** QEMU's x86 system emulator on PATH, installed with apt-get when missing and we are root. */
async function findQemu(progress: Progress, cache: string): Promise<{ qemu: string; version: string }> {
  let qemu = Bun.which("qemu-system-x86_64");
  if (qemu === null && hasApt() && isRoot()) {
    progress(`lab: installing ${qemuPackage} (apt-get)…`);
    await aptInstall([qemuPackage], cache);
    qemu = Bun.which("qemu-system-x86_64");
  }
  if (qemu === null) {
    throw setupError(
      `lab: qemu-system-x86_64 is not on PATH. ${installHint(qemuPackage, "Fedora `sudo dnf install qemu-system-x86-core`; Arch `sudo pacman -S qemu-system-x86`")}`,
    );
  }
  const line = (await run([qemu, "--version"], "asking QEMU its version")).split("\n")[0] ?? "";
  return { qemu, version: /version (\S+)/.exec(line)?.[1] ?? line };
}

async function aptInstall(packages: string[], cache: string): Promise<void> {
  const log = join(cache, "apt.log");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const attempt = () =>
    Bun.spawnSync(["sh", "-c", 'log=$1; shift; apt-get install -y -qq "$@" >>"$log" 2>&1', "sh", log, ...packages], { env }).exitCode === 0;
  if (attempt()) return;
  Bun.spawnSync(["sh", "-c", 'apt-get update -qq >>"$1" 2>&1', "sh", log], { env });
  if (!attempt()) throw setupError(`lab: apt-get install ${packages.join(" ")} failed; see ${log}`);
}

/** True when an ELF file has no program interpreter (PT_INTERP): it runs with no libc around it. */
async function isStaticElf(path: string): Promise<boolean> {
  const f = await open(path, "r").catch(() => null);
  if (f === null) return false;
  try {
    const head = Buffer.alloc(64);
    await f.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return false; // ELF, 64-bit
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    await f.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    await f.close();
  }
}

/**
 * Fetches a Debian package into <cache>/<name>/ with `apt-get download` and
 * unpacks it there with `dpkg-deb -x` (no root needed, nothing installed).
 * The directory appears by atomic rename, so a half-done fetch is never used.
 * `record` names the files (relative to `dest`) whose SHA-256 goes into a
 * manifest beside each, for checkHash before each later use.
 */
async function unpackDebian(pkg: string, dest: string, record: string[]): Promise<void> {
  const stage = `${dest}.${process.pid}.tmp`;
  await rm(stage, { recursive: true, force: true });
  await mkdir(join(stage, "deb"), { recursive: true, mode: 0o700 });
  try {
    await run(["apt-get", "download", "-qq", pkg], `downloading ${pkg}`, { cwd: join(stage, "deb") });
    const deb = readdirSync(join(stage, "deb")).find((n) => n.endsWith(".deb"));
    if (deb === undefined) throw setupError(`lab: apt-get download ${pkg} left no .deb`);
    await run(["dpkg-deb", "-x", join(stage, "deb", deb), join(stage, "root")], `unpacking ${deb}`);
    await rm(join(stage, "deb"), { recursive: true, force: true });
    for (const rel of record) await recordHash(join(stage, "root", rel), new Uint8Array(await readFile(join(stage, "root", rel))));
    await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
    await rm(dest, { recursive: true, force: true });
    await rename(join(stage, "root"), dest);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** A LabError "tampered" for a cached file whose content no longer matches its manifest. */
function tampered(file: string, refetch: string): LabError {
  return new LabError(
    `lab: ${file} does not match the SHA-256 recorded when it was fetched (${manifestOf(file)}): it changed since, so the lab will not boot it. Delete ${refetch} to fetch it again.`,
    "tampered",
    "",
    "",
  );
}

/** A static busybox: the cache's (checked against its manifest), else the system's if static, else Debian's busybox-static fetched into the cache. */
async function findBusybox(progress: Progress, cache: string): Promise<string> {
  const cached = join(cache, "busybox", "bin", "busybox");
  const check = await checkHash(cached);
  if (check === "mismatch") throw tampered(cached, join(cache, "busybox"));
  if (check === "ok" && (await isStaticElf(cached))) return cached;
  for (const system of ["/bin/busybox", "/usr/bin/busybox"]) if (await isStaticElf(system)) return system;
  if (!hasApt()) {
    throw setupError(
      `lab: no statically linked busybox found (the lab's initramfs runs it with no libc). ${installHint("busybox-static", "elsewhere install a static busybox as /bin/busybox")}`,
    );
  }
  progress("lab: fetching busybox-static (apt-get download)…");
  await unpackDebian("busybox-static", join(cache, "busybox"), ["bin/busybox"]);
  if (!(await isStaticElf(cached))) throw setupError(`lab: ${cached} is not a static busybox after unpacking busybox-static`);
  return cached;
}

/** The kernel release a bzImage names in its setup header ("6.1.0-56-amd64 (debian-kernel@…) #1 SMP …"). */
export async function bzImageRelease(path: string): Promise<string | null> {
  const f = await open(path, "r").catch(() => null);
  if (f === null) return null;
  try {
    const head = Buffer.alloc(0x300);
    await f.read(head, 0, head.length, 0);
    if (head.toString("latin1", 0x202, 0x206) !== "HdrS") return null;
    const at = head.readUInt16LE(0x20e);
    if (at === 0) return null;
    const text = Buffer.alloc(256);
    await f.read(text, 0, text.length, at + 0x200);
    return /^[^\s\0]+/.exec(text.toString("latin1"))?.[0] ?? null;
  } finally {
    await f.close();
  }
}

/** The one release under `<dir>/lib/modules`, or null when there is none. */
function moduleRelease(dir: string): string | null {
  const modules = join(dir, "lib", "modules");
  const releases = existsSync(modules) ? readdirSync(modules) : [];
  if (releases.length > 1) throw setupError(`lab: expected one release under ${modules}, found [${releases.join(", ")}]`);
  return releases[0] ?? null;
}

/**
 * A kernel the user names: a bzImage file (its modules, if any, at
 * /lib/modules/<release> on the host) or an unpacked kernel package directory
 * (vmlinuz or boot/vmlinuz-*, and lib/modules/<release>).
 */
export async function userKernel(path: string): Promise<Kernel> {
  const given = resolve(path);
  if (!existsSync(given)) throw setupError(`lab: --kernel ${path}: no such file or directory`);
  if (readdirIfDir(given) === null) {
    const release = await bzImageRelease(given);
    if (release === null) throw setupError(`lab: --kernel ${path} is not an x86 bzImage (no "HdrS" setup header)`);
    const modulesDir = join("/lib/modules", release);
    return { dir: dirname(given), vmlinuz: given, release, modulesDir: existsSync(modulesDir) ? modulesDir : null };
  }
  const boot = readdirIfDir(join(given, "boot")) ?? [];
  const image = [join(given, "vmlinuz"), ...boot.filter((n) => n.startsWith("vmlinuz-")).map((n) => join(given, "boot", n))].find((p) =>
    existsSync(p),
  );
  if (image === undefined) throw setupError(`lab: --kernel ${path} holds neither vmlinuz nor boot/vmlinuz-*`);
  const release = moduleRelease(given) ?? (await bzImageRelease(image));
  if (release === null) throw setupError(`lab: --kernel ${path}: cannot tell the kernel release of ${image}`);
  const modulesDir = join(given, "lib", "modules", release);
  return { dir: given, vmlinuz: image, release, modulesDir: existsSync(modulesDir) ? modulesDir : null };
}

function readdirIfDir(path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/**
 * The running kernel's image and modules, when this user can read the image
 * (Ubuntu and Fedora install /boot/vmlinuz-<release> and /lib/modules/<release>).
 */
async function hostKernel(): Promise<Kernel | null> {
  const image = join("/boot", `vmlinuz-${osRelease()}`);
  try {
    accessSync(image, constants.R_OK);
  } catch {
    return null;
  }
  return userKernel(image).catch(() => null);
}

/**
 * The Debian kernel in the cache, fetched on first use: the package
 * `linux-image-amd64` currently depends on. A cached image is used only when
 * it matches the SHA-256 recorded at the fetch; one without a manifest (an
 * older cache) is fetched again.
 */
async function debianKernel(progress: Progress, cache: string): Promise<Kernel> {
  const kdir = await privateDir(join(cache, "kernel"), "kernel cache");
  const current = join(kdir, "current");
  const named = (await readFile(current, "utf8").catch(() => "")).trim();
  if (/^linux-image-[\w.+~-]+$/.test(named)) {
    const image = join(kdir, named, "vmlinuz");
    const check = await checkHash(image);
    if (check === "mismatch") throw tampered(image, join(kdir, named));
    if (check === "ok") return userKernel(join(kdir, named));
  }
  // Without Debian's kernel, this machine's own kernel will do, if its image is readable.
  const noKernel = async (why: string) => {
    const host = await hostKernel();
    if (host !== null) {
      progress(`lab: ${why}; booting this machine's kernel ${host.release} (${host.vmlinuz})`);
      return host;
    }
    throw setupError(
      `lab: ${why}, so the lab cannot fetch its Debian kernel, and this machine's own kernel image (/boot/vmlinuz-${osRelease()}) is not readable. Pass a kernel with --kernel PATH (a bzImage with virtio-pci, 9p and overlayfs built in or as modules under /lib/modules/<release>), or use a Debian host (${kernelMetaPackage} in its apt sources).`,
    );
  };
  if (!hasApt()) return noKernel("apt-get and dpkg-deb are not on PATH");
  const depends = async () =>
    /Depends: (linux-image-[0-9]\S*)/.exec(
      await run(["apt-cache", "depends", kernelMetaPackage], `apt-cache depends ${kernelMetaPackage}`).catch(() => ""),
    )?.[1];
  let pkg = await depends();
  if (pkg === undefined && isRoot()) {
    await run(["apt-get", "update", "-qq"], "apt-get update").catch(() => "");
    pkg = await depends();
  }
  if (pkg === undefined) return noKernel(`apt knows no package ${kernelMetaPackage}`);
  progress(`lab: fetching the Debian kernel ${pkg} (apt-get download)…`);
  const release = pkg.replace(/^linux-image-/, "");
  await unpackDebian(pkg, join(kdir, pkg), []);
  const image = join(kdir, pkg, "boot", `vmlinuz-${release}`);
  if (!existsSync(image)) throw setupError(`lab: ${pkg} has no boot/vmlinuz-${release}`);
  // The copy the lab boots, with the hash of the bytes just unpacked from the package apt verified.
  const bytes = new Uint8Array(await readFile(image));
  const vmlinuz = join(kdir, pkg, "vmlinuz");
  await recordHash(vmlinuz, bytes);
  await writeAtomic(vmlinuz, bytes, 0o644);
  await writeAtomic(current, `${pkg}\n`);
  return userKernel(join(kdir, pkg));
}

/** Checks /dev/kvm before a --kvm run: present and usable by us. */
export function checkKvm(): void {
  if (!existsSync("/dev/kvm")) {
    throw new LabError(
      "lab: --kvm asked for KVM, but /dev/kvm is missing: the kvm_intel or kvm_amd module is not loaded, virtualization is off in the firmware, or this is a VM without nested virtualization. Run without --kvm to use TCG.",
      "no-kvm",
      "",
      "",
    );
  }
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    throw new LabError(
      "lab: --kvm asked for KVM, but /dev/kvm is not readable and writable by this user: add yourself to its group (usually `kvm`), or run without --kvm to use TCG.",
      "no-kvm",
      "",
      "",
    );
  }
}

/** One preparation per cache and kernel choice in this process; parallel runs share it. */
const preparing = new Map<string, Promise<LabTools>>();

/**
 * Finds or installs everything the lab needs, quietly and idempotently.
 * `kernel` is the user's own (see userKernel); without it, the Debian kernel in the cache.
 */
export function prepareLab(opts: { kernel?: string | undefined; progress?: Progress } = {}): Promise<LabTools> {
  const cache = labCacheDir();
  const key = `${cache}\n${opts.kernel ?? ""}`;
  let p = preparing.get(key);
  if (p === undefined) {
    p = prepare(cache, opts.kernel, opts.progress ?? (() => {}));
    preparing.set(key, p);
    p.catch(() => preparing.delete(key));
  }
  return p;
}

async function prepare(given: string, kernelPath: string | undefined, progress: Progress): Promise<LabTools> {
  const cache = await privateDir(given, "lab cache ($IOPERM_CACHE, $XDG_CACHE_HOME/ioperm or ~/.cache/ioperm)");
  const { qemu, version } = await findQemu(progress, cache);
  const busybox = await findBusybox(progress, cache);
  const kernel = kernelPath !== undefined ? await userKernel(kernelPath) : await debianKernel(progress, cache);
  if (kernelPath === undefined) await indexModules(kernel, progress);
  return { cache, qemu, qemuVersion: version, busybox, kernel };
}

/**
 * Writes modules.dep (and the rest of depmod's index) into the cached Debian
 * kernel's module tree, once: a kernel package ships without them, and
 * `modprobe` in the guest reads them at /lib/modules/<release>, where init.sh
 * mounts this tree. Needs depmod (kmod) on the host, as the guest's modprobe does.
 */
async function indexModules(kernel: Kernel, progress: Progress): Promise<void> {
  if (kernel.modulesDir === null || existsSync(join(kernel.modulesDir, "modules.dep"))) return;
  const depmod = Bun.which("depmod") ?? ["/usr/sbin/depmod", "/sbin/depmod"].find((p) => existsSync(p));
  if (depmod === undefined) {
    progress(
      `lab: depmod is not on PATH, so modprobe will not work in the guest (insmod with a path will). ${installHint("kmod", "elsewhere install kmod")}`,
    );
    return;
  }
  await run([depmod, "-b", kernel.dir, kernel.release], `indexing ${kernel.modulesDir} (depmod)`);
}
