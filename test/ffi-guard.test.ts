// IOPERM_LIB in a privileged process (lib/ffi.ts): each test plants the attack
// an ordinary user (uid 65534) could, in a tree of its own under a fresh
// root-owned directory, and loads the library in a child Bun that is
// privileged (root, a capability, or a setgid start). The witness of what was
// loaded is the child's /proc/self/maps: the kernel's list of mapped files,
// not the library's word. Only the planted flaw differs from a safe tree.
// These tests need root (to chown and to drop to uid 65534); without it they
// fail and say so, never skip (CI runs as root).
import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devLibrary, packageRoot as root } from "../lib/paths.ts";
import { asNobody } from "./nobody.ts";

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const real = devLibrary();

/** Fails the calling test with the reason when this is not root. */
function requireRoot(): void {
  if (!isRoot) throw new Error("needs root: it chowns a tree to uid 65534 and drops to it (run as root, as CI does)");
}

const base = mkdtempSync(join(tmpdir(), "ioperm-guard-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Tree {
  /** A copy of lib/ the children run, root-owned and readable by all. */
  pkg: string;
  /** base/good/libioperm.so: root's, 0644, in root-owned 0755 directories. */
  good: string;
  /** base/user: uid 65534's directory, 0755. */
  user: string;
  /** base/user/good/libioperm.so: a working library that uid 65534 owns. */
  usersLib: string;
}

let built: Tree | undefined;

/** The shared trees, built once: root's side 0755/0644, the user's side chowned to 65534. */
function tree(): Tree {
  requireRoot();
  if (built) return built;
  chmodSync(base, 0o755); // mkdtemp's 0700 would keep uid 65534 out; root still owns it.
  const pkg = join(base, "pkg");
  cpSync(join(root, "lib"), join(pkg, "lib"), { recursive: true });
  const good = join(base, "good", "libioperm.so");
  mkdirSync(join(base, "good"), { mode: 0o755 });
  copyFileSync(real, good);
  chmodSync(good, 0o644);
  const user = join(base, "user");
  mkdirSync(join(user, "a", "b"), { recursive: true, mode: 0o755 });
  mkdirSync(join(user, "good"), { mode: 0o755 });
  const usersLib = join(user, "good", "libioperm.so");
  copyFileSync(real, usersLib);
  chmodSync(usersLib, 0o644);
  for (const p of [user, join(user, "a"), join(user, "a", "b"), join(user, "good"), usersLib]) chownSync(p, NOBODY, NOBODY);
  built = { pkg, good, user, usersLib };
  return built;
}

/** A symlink that uid 65534 owns (lchown: the link itself). */
function usersSymlink(target: string, at: string): void {
  symlinkSync(target, at);
  Bun.spawnSync(["chown", "-h", `${NOBODY}:${NOBODY}`, at]);
}

interface Outcome {
  code: string;
  message: string;
  /** Files with "libioperm" in their name in the child's /proc/self/maps. */
  mapped: string[];
  /** The child's Uid, Gid and CapEff lines in /proc/self/status. */
  status: string[];
}

const child = `
  import { readFileSync } from "node:fs";
  import { open } from "./lib/index.ts";
  const out = { code: "opened", message: "", mapped: [], status: [] };
  try { open().close(); } catch (e) { out.code = e.code; out.message = e.message; }
  const maps = readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.includes("libioperm"));
  out.mapped = [...new Set(maps.map((l) => l.slice(l.indexOf("/"))))];
  out.status = readFileSync("/proc/self/status", "utf8").split("\\n").filter((l) => /^(Uid|Gid|CapEff):/.test(l));
  console.log(JSON.stringify(out));`;

/** Loads IOPERM_LIB=`lib` in a child Bun (run through `prefix`, e.g. setpriv); its outcome, or how it died. */
function load(lib: string, prefix: readonly string[] = [], bun = process.execPath): Outcome {
  const { IOPERM_LIB: _, ...env } = process.env;
  const r = Bun.spawnSync([...prefix, bun, "-e", child], {
    cwd: tree().pkg,
    env: { ...env, HOME: "/tmp", IOPERM_LIB: lib },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0 || r.signalCode)
    return { code: `died: exit ${r.exitCode} ${r.signalCode ?? ""}`, message: r.stderr.toString(), mapped: [], status: [] };
  return JSON.parse(r.stdout.toString()) as Outcome;
}

/** A refusal of IOPERM_LIB=`lib` whose reason names `file`, with nothing of ioperm's mapped. */
function expectRefused(r: Outcome, lib: string, file: string, reason: string): void {
  expect(r.code, r.message).toBe("LOAD_FAILED");
  expect(r.message).toContain(`refusing IOPERM_LIB=${lib} in a privileged process`);
  expect(r.message).toContain(file);
  expect(r.message).toContain(reason);
  expect(r.mapped).toEqual([]);
}

test("a root-owned library in a root-owned 0755 tree loads in a root process, directly and through root's own symlink (witness: /proc/self/maps)", () => {
  const { good } = tree();
  expect(load(good)).toMatchObject({ code: "opened", mapped: [good] });
  const alias = join(base, "good", "alias.so");
  symlinkSync("libioperm.so", alias);
  expect(load(alias)).toMatchObject({ code: "opened", mapped: [good] });
});

test("`..` after a directory symlink the user owns: the text names root's file, the kernel reaches the user's; refused", () => {
  const { user, usersLib } = tree();
  // base/user/link -> base/user/a/b, so link/../.. is base/user to the kernel, but base to path.resolve().
  usersSymlink(join(user, "a", "b"), join(user, "link"));
  const lib = `${user}/link/../../good/libioperm.so`; // not join(), which folds ".." as text
  const r = load(lib);
  expectRefused(r, lib, usersLib, `${usersLib} is owned by uid ${NOBODY}, not root`);
});

test("a path whose text form does not exist (the kernel resolves it through the user's symlink): refused", () => {
  const { user, usersLib } = tree();
  mkdirSync(join(user, "good", "sub"));
  chownSync(join(user, "good", "sub"), NOBODY, NOBODY);
  usersSymlink(join(user, "good", "sub"), join(user, "ghost"));
  // As text, base/user/libioperm.so: no such file. To the kernel, base/user/good/libioperm.so.
  const lib = `${user}/ghost/../libioperm.so`;
  expect(() => readFileSync(join(user, "libioperm.so"))).toThrow("ENOENT");
  expectRefused(load(lib), lib, usersLib, "not root");
});

test("a group-writable directory above root's file: refused, naming the directory and the file", () => {
  tree();
  const gw = join(base, "gw");
  mkdirSync(join(gw, "sub"), { recursive: true });
  chownSync(gw, 0, NOBODY);
  chmodSync(gw, 0o775);
  const lib = join(gw, "sub", "libioperm.so");
  copyFileSync(real, lib);
  chmodSync(lib, 0o644);
  expectRefused(load(lib), lib, lib, `${gw}, above ${lib}, is writable by group ${NOBODY}`);
});

test("a FIFO is refused as not a regular file, without hanging the open", () => {
  tree();
  const fifo = join(base, "good", "fifo.so");
  expect(Bun.spawnSync(["mkfifo", "-m", "0644", fifo]).exitCode).toBe(0);
  expectRefused(load(fifo), fifo, fifo, "is not a regular file");
});

test("a symlink the user flips in a loop while the library loads: each load refuses or maps root's file, never the user's (40 loads)", async () => {
  const { user, good, usersLib } = tree();
  // flip -> base/x/y gives flip/../.. = base (root's file); flip -> base/user/a/b gives base/user (the user's).
  mkdirSync(join(base, "x", "y"), { recursive: true, mode: 0o755 });
  const flip = join(user, "flip");
  usersSymlink(join(base, "x", "y"), flip);
  const flipper = Bun.spawn(
    [
      ...asNobody,
      process.execPath,
      "-e",
      `import { renameSync, symlinkSync } from "node:fs";
       const [flip, a, b] = process.argv.slice(-3);
       for (let i = 0; ; i++) {
         symlinkSync(i % 2 ? a : b, flip + ".new");
         renameSync(flip + ".new", flip);
         if (i === 1000) console.log("flipping");
       }`,
      flip,
      join(base, "x", "y"),
      join(user, "a", "b"),
    ],
    { env: { ...process.env, HOME: "/tmp" }, stdout: "pipe", stderr: "pipe" },
  );
  try {
    const first = await flipper.stdout.getReader().read();
    expect(new TextDecoder().decode(first.value)).toContain("flipping");
    const lib = `${flip}/../../good/libioperm.so`;
    const seen = { refused: 0, opened: 0 };
    for (let i = 0; i < 40; i++) {
      const r = load(lib);
      if (r.code === "opened") {
        expect(r.mapped).toEqual([good]);
        seen.opened++;
      } else {
        expectRefused(r, lib, usersLib, "not root");
        seen.refused++;
      }
    }
    expect(flipper.exitCode).toBeNull(); // still flipping at the end
    console.log(`flipped symlink: ${seen.opened} loads of root's file, ${seen.refused} refusals of the user's`);
    // Both sides were reached, so the race was really run.
    expect(seen.opened).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  } finally {
    flipper.kill("SIGKILL");
    await flipper.exited;
  }
}, 120_000);

const withRawio = [
  "setpriv",
  `--reuid=${NOBODY}`,
  `--regid=${NOBODY}`,
  "--clear-groups",
  "--inh-caps=+sys_rawio",
  "--ambient-caps=+sys_rawio",
];

test("a non-root process holding CAP_SYS_RAWIO (setpriv): the user's library refused, root's loads (witness: Uid and CapEff in /proc/self/status)", () => {
  const { good, usersLib } = tree();
  const r = load(usersLib, withRawio);
  expect(r.status).toContain(`Uid:\t${NOBODY}\t${NOBODY}\t${NOBODY}\t${NOBODY}`);
  expect(r.status).toContain("CapEff:\t0000000000020000");
  expectRefused(r, usersLib, usersLib, "capabilities 0x0000000000020000 in its effective set");
  expect(load(good, withRawio)).toMatchObject({ code: "opened", mapped: [good] });
});

test("a process started setgid (AT_SECURE, no uid 0, no capability) refuses the user's library and loads root's; the same Bun not setgid loads the user's", () => {
  const { good, usersLib } = tree();
  // A copy of Bun, setgid to a group uid 65534 is not in: the kernel sets AT_SECURE when it starts.
  const bin = join(base, "bin");
  mkdirSync(bin, { mode: 0o755 });
  const bun = join(bin, "bun");
  copyFileSync(process.execPath, bun);
  chownSync(bun, 0, 4242);
  chmodSync(bun, 0o2755);
  const r = load(usersLib, asNobody, bun);
  expect(r.status).toContain(`Gid:\t${NOBODY}\t4242\t4242\t4242`);
  expect(r.status).toContain("CapEff:\t0000000000000000");
  expectRefused(r, usersLib, usersLib, "setuid, setgid or file-capability start");
  expect(load(good, asNobody, bun)).toMatchObject({ code: "opened", mapped: [good] });
  chmodSync(bun, 0o755);
  expect(load(usersLib, asNobody, bun)).toMatchObject({ code: "opened", mapped: [usersLib] });
});

test("an unprivileged process may still load its own user's library (the guard does not over-reach)", () => {
  const { usersLib } = tree();
  const r = load(usersLib, asNobody);
  expect(r.status).toContain("CapEff:\t0000000000000000");
  expect(r).toMatchObject({ code: "opened", mapped: [usersLib] });
});
