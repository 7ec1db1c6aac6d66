// The lab command's contract (`ioperm lab`, lib/cli/lab.ts): its exit codes, the
// names of the files extra devices write, and a clear error, with no QEMU left
// running, for each kind of bad input. Each case boots (or refuses to boot) QEMU.
import { afterAll, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
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
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { asNobody } from "./nobody.ts";

const out = mkdtempSync(join(tmpdir(), "ioperm-labcli-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function lab(args: string[]) {
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "lab", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("exit 124 when the run outlives --timeout, and QEMU is killed", () => {
  const r = lab(["--timeout", "3", "--out", join(out, "timeout"), "--", "sleep", "600"]);
  expect(r.code).toBe(124);
  expect(r.stderr).toContain("timed out after 3 s");
  expect(r.stderr).toContain("QEMU was killed");
}, 60_000);

const isRoot = process.getuid?.() === 0;

/** QEMU processes whose command line contains `marker` (witness: pgrep over every process's argv). */
function qemuWith(marker: string): string[] {
  const r = Bun.spawnSync(["pgrep", "-af", "qemu-system"], { stdout: "pipe" });
  return r.stdout
    .toString()
    .split("\n")
    .filter((l) => l.includes(marker) && !l.includes("pgrep"));
}

test("exit 125 when QEMU refuses the machine (a bad option), naming QEMU's complaint; nothing booted", () => {
  const r = lab(["--qemu", "-no-such-option", "--out", join(out, "bad"), "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toContain("lab: QEMU refused the machine: qemu-system-x86_64: -no-such-option: invalid option");
  expect(existsSync(join(out, "bad", "console.log"))).toBe(false);
  expect(qemuWith("-no-such-option")).toEqual([]);
}, 60_000);

test("an unknown --device: exit 125, its name, the nearest real one, and no QEMU left running", () => {
  const r = lab(["--device", "isa-parallell,iobase=0x2bc", "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toContain('lab: unknown device "isa-parallell"');
  expect(r.stderr).toContain('Did you mean "isa-parallel"?');
  expect(r.stderr).toContain("-device help");
  expect(qemuWith("isa-parallell")).toEqual([]);
}, 60_000);

test("an I/O address clash with the standard machine or between two --device: exit 125, both ranges named, no QEMU left", () => {
  const withLpt1 = lab(["--device", "isa-parallel,iobase=0x37a,irq=5", "--", "true"]);
  expect(withLpt1.code).toBe(125);
  expect(withLpt1.stderr).toContain(
    "lab: I/O address clash: --device isa-parallel,iobase=0x37a,irq=5 (parallel, 0x37a-0x381) overlaps the standard machine's LPT1 (0x378-0x37f)",
  );
  const twoCards = lab(["--device", "isa-serial,iobase=0x2e8,index=2", "--device", "isa-parallel,iobase=0x2ec,index=1", "--", "true"]);
  expect(twoCards.code).toBe(125);
  expect(twoCards.stderr).toContain(
    "--device isa-parallel,iobase=0x2ec,index=1 (parallel, 0x2ec-0x2f3) overlaps --device isa-serial,iobase=0x2e8,index=2 (serial, 0x2e8-0x2ef)",
  );
  expect(qemuWith("iobase=0x37a")).toEqual([]);
  expect(qemuWith("iobase=0x2ec")).toEqual([]);
}, 60_000);

test("a command the guest does not have: exit 127 and a message naming it; a command that exits 127 itself gets no such message", () => {
  const missing = lab(["--out", join(out, "missing"), "--", "no-such-command-here", "x"]);
  expect(missing.code).toBe(127);
  expect(missing.stderr).toContain('lab: command not found in the guest: "no-such-command-here"');
  const itself = lab(["--out", join(out, "itself"), "--", "sh", "-c", "exit 127"]);
  expect(itself.code).toBe(127);
  expect(itself.stderr).not.toContain("command not found in the guest");
}, 120_000);

test.skipIf(!isRoot && existsSync("/dev/kvm"))(
  "--kvm without /dev/kvm: exit 125 and what to do, before any QEMU starts (here /dev is hidden in a private mount namespace)",
  () => {
    const run = join(out, "nokvm");
    // A /dev without kvm: copies of the nodes Bun needs, bind-mounted over /dev in a namespace of its own.
    const script = `d=$(mktemp -d) && cp -a /dev/null /dev/zero /dev/random /dev/urandom /dev/full "$d"/ && ln -s /proc/self/fd "$d/fd" && mount --bind "$d" /dev && exec "$@"`;
    const cmd = [process.execPath, "lib/cli.ts", "lab", "--kvm", "--out", run, "--", "true"];
    const r = existsSync("/dev/kvm")
      ? Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", ...cmd], {
          cwd: root,
          stdout: "pipe",
          stderr: "pipe",
        })
      : Bun.spawnSync(cmd, { cwd: root, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toContain("lab: --kvm asked for KVM, but /dev/kvm is missing");
    expect(r.exitCode).toBe(125);
    expect(qemuWith(run)).toEqual([]);
  },
  60_000,
);

/**
 * Runs `ioperm lab ARGS` as on a machine without apt: PATH holds only Bun and
 * QEMU, the lab cache is new and empty, and /boot is an empty tmpfs in a mount
 * namespace of its own, after `setup` (shell) has run there.
 */
function labWithoutApt(args: string[], setup = "") {
  const dir = mkdtempSync(join(out, "noapt-"));
  const bin = join(dir, "bin");
  Bun.spawnSync(["mkdir", "-p", bin]);
  symlinkSync(process.execPath, join(bin, "bun"));
  symlinkSync(Bun.which("qemu-system-x86_64") ?? "qemu-system-x86_64", join(bin, "qemu-system-x86_64"));
  const script = `mount -t tmpfs none /boot && ${setup || "true"} && PATH="$1" IOPERM_CACHE="$2" && export PATH IOPERM_CACHE && shift 2 && exec bun lib/cli.ts lab "$@"`;
  const r = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", bin, join(dir, "cache"), ...args], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test.skipIf(!isRoot)(
  "without apt and without a readable kernel image of this machine: exit 125 and what to pass (needs root for a mount namespace)",
  () => {
    const r = labWithoutApt(["--", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("lab: apt-get and dpkg-deb are not on PATH, so the lab cannot fetch its Debian kernel");
    expect(r.stderr).toContain("Pass a kernel with --kernel PATH");
  },
  60_000,
);

test.skipIf(!isRoot)(
  "without apt, the lab boots this machine's own kernel from /boot and /lib/modules (here Debian's, bind-mounted there; witness: uname -r in the guest)",
  async () => {
    const { prepareLab } = await import("../lib/lab/index.ts");
    const { kernel } = await prepareLab();
    const madeModulesDir = !existsSync("/lib/modules");
    const modules = `/lib/modules/${kernel.release}`;
    const setup = `touch /boot/vmlinuz-$(uname -r) && mount --bind '${kernel.vmlinuz}' /boot/vmlinuz-$(uname -r) && mkdir -p /lib/modules && mount -t tmpfs none /lib/modules && mkdir ${modules} && mount --bind '${kernel.modulesDir}' ${modules}`;
    try {
      const r = labWithoutApt(["--", "uname", "-r"], setup);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(kernel.release);
    } finally {
      if (madeModulesDir) rmSync("/lib/modules", { recursive: true, force: true });
    }
  },
  120_000,
);

test("--kernel: a path that is missing or not a bzImage is refused; an unpacked kernel package boots (witness: uname -r in the guest)", async () => {
  expect(lab(["--kernel", "/no/such/kernel", "--", "true"]).stderr).toContain("lab: --kernel /no/such/kernel: no such file or directory");
  const notImage = lab(["--kernel", "package.json", "--", "true"]);
  expect(notImage.code).toBe(125);
  expect(notImage.stderr).toContain("is not an x86 bzImage");
  const { prepareLab } = await import("../lib/lab/index.ts");
  const { kernel } = await prepareLab();
  const r = lab(["--kernel", kernel.dir, "--out", join(out, "kernel"), "--", "uname", "-r"]);
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toBe(kernel.release);
}, 120_000);

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

const hasScript = Bun.which("script") !== null;
test.skipIf(!hasScript)(
  "on a terminal (a pty from util-linux `script`) the guest command sees one on stdout and stderr, and progress shows; with stderr to a file, stdout alone is a terminal; with neither, no progress",
  () => {
    const tty = Bun.spawnSync(
      ["script", "-qec", `${process.execPath} lib/cli.ts lab --out ${join(out, "tty")} -- sh -c 'test -t 1 && test -t 2'`, "/dev/null"],
      {
        cwd: root,
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const shown = tty.stdout.toString();
    expect(tty.exitCode).toBe(0);
    expect(shown).toContain("lab: booting (tcg)…");
    expect(shown).toMatch(/lab: running after \d+\.\d s boot/);
    expect(shown).toMatch(/lab: exit 0 \(tcg, boot \d+\.\d s, total \d+\.\d s; run dir /);
    const errFile = join(out, "tty-stderr.txt");
    const split = Bun.spawnSync(
      [
        "script",
        "-qec",
        `${process.execPath} lib/cli.ts lab --out ${join(out, "tty1")} -- sh -c 'test -t 1 && ! test -t 2 && echo err >&2' 2>${errFile}`,
        "/dev/null",
      ],
      { cwd: root, stdout: "pipe", stderr: "pipe" },
    );
    expect(split.exitCode).toBe(0);
    expect(readFileSync(errFile, "utf8")).toBe(`err\nlab: run dir ${join(out, "tty1")}\n`);
    expect(split.stdout.toString()).not.toContain("err");
    const piped = lab(["--out", join(out, "piped"), "--", "true"]);
    expect(piped.code).toBe(0);
    // No progress without a terminal, only where the run's files went.
    expect(piped.stderr).toBe(`lab: run dir ${join(out, "piped")}\n`);
  },
  120_000,
);

test.skipIf(!isRoot)(
  "an ordinary user (uid 65534, no groups, no capabilities) with an empty cache of its own: the lab fetches its kernel without root and runs (witness: the host LPT file)",
  () => {
    const home = mkdtempSync(join(tmpdir(), "ioperm-nobody-"));
    try {
      Bun.spawnSync(["chown", "-R", "65534:65534", home]);
      const r = Bun.spawnSync(
        [
          ...asNobody,
          "env",
          `HOME=${home}`,
          `IOPERM_CACHE=${join(home, "cache")}`,
          `PATH=${dirname(process.execPath)}:/usr/bin:/bin`,
          process.execPath,
          join(root, "lib/cli.ts"),
          "lab",
          "--out",
          join(home, "run"),
          "--",
          "sh",
          "-c",
          "outb 0x378 0x4e && outb 0x37a 0x0d && outb 0x37a 0x0c",
        ],
        { cwd: home, stdout: "pipe", stderr: "pipe" },
      );
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      expect(
        Bun.spawnSync(["stat", "-c", "%u", join(home, "cache", "kernel")])
          .stdout.toString()
          .trim(),
      ).toBe("65534");
      expect([...readFileSync(join(home, "run", "lpt1.out"))]).toEqual([0x4e]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
  120_000,
);

test("--prepare installs nothing new here and says what it found: the cache, QEMU's version, busybox and the kernel (witnesses: qemu --version, the kernel file)", () => {
  const r = lab(["--prepare"]);
  expect(r.code).toBe(0);
  const said = Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => /^lab: (\w+) (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  expect(Object.keys(said).sort()).toEqual(["busybox", "cache", "kernel", "qemu"]);
  const qemu = Bun.spawnSync(["qemu-system-x86_64", "--version"], { stdout: "pipe" }).stdout.toString();
  expect(qemu).toContain(`version ${said.qemu?.split(" ")[0]}`);
  const vmlinuz = /\((.*)\)$/.exec(said.kernel ?? "")?.[1] ?? "";
  expect(existsSync(vmlinuz)).toBe(true);
  expect(existsSync(said.cache ?? "")).toBe(true);
}, 300_000);

test("a -device value QEMU refuses (iobase=zz): exit 125 with QEMU's words, and runLab's LabError has reason bad-config", async () => {
  const r = lab(["--device", "isa-parallel,iobase=zz", "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toContain("lab: QEMU refused the machine");
  expect(r.stderr).toContain("iobase");
  const { LabError, runLab } = await import("../lib/lab/index.ts");
  let err: unknown;
  try {
    await runLab({ cwd: root, command: ["true"], devices: ["isa-parallel,iobase=zz"] });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LabError);
  expect((err as InstanceType<typeof LabError>).reason).toBe("bad-config");
  expect(qemuWith("iobase=zz")).toEqual([]);
}, 120_000);

test.skipIf(!isRoot)(
  "--out owned by another user (uid 65534) or writable by its group: exit 125 with the reason, nothing written there, no QEMU (needs root for chown)",
  () => {
    const theirs = join(out, "theirs");
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const r = lab(["--out", theirs, "--", "true"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`lab: refusing the run dir (outDir, --out) ${theirs}: it is owned by uid 65534, not by this user (uid 0)`);
    expect(readdirSync(theirs)).toEqual([]);
    const shared = join(out, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o775);
    const g = lab(["--out", shared, "--", "true"]);
    expect(g.code).toBe(125);
    expect(g.stderr).toContain("it is writable by its group (mode 775)");
    expect(readdirSync(shared)).toEqual([]);
    expect(qemuWith(theirs)).toEqual([]);
  },
  60_000,
);

test("symlinks planted in a reused --out where the lab writes guest.sh, files.json and a witness file are replaced, never written through, and one the guest leaves is not read; the lab still boots (witness: the byte in lpt1.out)", () => {
  const run = join(out, "planted");
  mkdirSync(run, { mode: 0o700 });
  const victims = ["guest.sh", "files.json", "lpt1.out", "console.log"].map((name) => {
    const victim = join(out, `victim-${name}`);
    writeFileSync(victim, "precious\n");
    symlinkSync(victim, join(run, name));
    return victim;
  });
  // The guest writes the run dir too: a symlink it leaves where the host reads a note is not followed.
  const guest = 'outb 0x378 0x3c && outb 0x37a 0x0d && outb 0x37a 0x0c && ln -s /etc/hostname "$IOPERM_LAB_RUN/not-found"';
  const r = lab(["--out", run, "--", "sh", "-c", guest]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).not.toContain("command not found");
  for (const victim of victims) expect(readFileSync(victim, "utf8")).toBe("precious\n");
  for (const name of ["guest.sh", "files.json", "lpt1.out", "console.log"]) expect(lstatSync(join(run, name)).isFile()).toBe(true);
  expect([...readFileSync(join(run, "lpt1.out"))]).toEqual([0x3c]);
  expect(statSync(join(run, "guest.sh")).mode & 0o777).toBe(0o600);
}, 120_000);
test("--machine q35 boots ICH9, and a user's command loads drivers with modprobe (witness: the guest's DMI, /proc/modules, /proc/ioports)", () => {
  const script = "cat /sys/class/dmi/id/product_name; modprobe i2c-i801 && modprobe parport_pc && cat /proc/modules /proc/ioports";
  const r = lab(["--machine", "q35", "--out", join(out, "q35"), "--", "sh", "-c", script]);
  expect(r.stderr).not.toContain("modprobe:");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Standard PC (Q35 + ICH9, 2009)");
  expect(r.stdout).toMatch(/^i2c_i801 /m);
  expect(r.stdout).toMatch(/^parport_pc /m);
  expect(r.stdout).toMatch(/^ {4}0700-073f : i801_smbus$/m);
  expect(r.stdout).toMatch(/^ {2}0378-037a : parport0$/m);
}, 120_000);

test("an unknown --machine: exit 64 and the machines there are, before any QEMU starts", () => {
  const r = lab(["--machine", "srever", "--", "true"]);
  expect(r.code).toBe(64);
  expect(r.stderr).toContain('lab: unknown machine "srever"; the lab has standard, server, q35');
  expect(qemuWith("srever")).toEqual([]);
}, 60_000);

test("a --device on the server profile's KCS ports: exit 125 naming the profile's BMC, no QEMU left", () => {
  const r = lab(["--machine", "server", "--device", "isa-parallel,iobase=0xca0", "--", "true"]);
  expect(r.code).toBe(125);
  expect(r.stderr).toContain(
    "lab: I/O address clash: the machine profile's BMC KCS (0xca2-0xca3) overlaps --device isa-parallel,iobase=0xca0 (parallel, 0xca0-0xca7)",
  );
  expect(qemuWith("iobase=0xca0")).toEqual([]);
}, 60_000);
