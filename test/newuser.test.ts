// The path of a new user, on the host: a fresh `bun init` project outside the
// repo with the packed tarball installed, and only Bun and the system on PATH.
// This host's kernel has no ioperm and no /dev/port, so every refusal below is
// the real one a user here meets. It shows that
// - every message names the command that works in that project (bunx ioperm …),
//   and a compiled executable names itself;
// - the project type-checks with bun's template tsconfig and with every strict flag on;
// - `bun build --compile` of a script that imports only "ioperm" carries the
//   library: the executable, copied alone into an empty directory, loads it and
//   calls into it (witness: libraryPath() inside the executable, and a native call's answer).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { type FreshProject, freshProject } from "./fresh-project.ts";

/** A new HOME, but Bun's package cache is this user's: bun init's @types/bun installs offline once it has been fetched. */
let user: FreshProject;
let work = "";
let project = "";
const tsc = join(root, "node_modules", ".bin", "tsc");

afterAll(() => user?.remove());

const inDir = (cwd: string, cmd: string[]) => user.run(cmd, cwd);
const inProject = (cmd: string[]) => user.run(cmd);

/** rig.ts: what a user writes first, importing nothing but "ioperm". */
const rig = `import { IopermError, libraryPath, open } from "ioperm";
using io = open();
console.log(JSON.stringify({ library: libraryPath(), grants: io.grants() }));
try {
  io.grant(0x378, 3);
} catch (e) {
  if (!(e instanceof IopermError)) throw e;
  console.error(e.message);
  process.exit(2);
}
`;

beforeAll(() => {
  user = freshProject("ioperm-newuser-", () => ({
    BUN_INSTALL_CACHE_DIR: process.env.BUN_INSTALL_CACHE_DIR ?? join(homedir(), ".bun", "install", "cache"),
  }));
  ({ work, project } = user);
  // bun init writes the template tsconfig and installs @types/bun, as for any new user.
  const init = inProject(["bun", "init", "-y"]);
  if (init.code !== 0) throw new Error(`bun init failed: ${init.stderr}`);
  const add = inProject(["bun", "add", user.tarball]);
  if (add.code !== 0) throw new Error(`bun add failed: ${add.stderr}`);
  writeFileSync(join(project, "rig.ts"), rig);
}, 300_000);

test("installed: doctor, the probe and a refused grant name bunx ioperm and the user's script, never a checkout's command", () => {
  const doctor = inProject(["bun", "x", "ioperm", "doctor"]);
  expect(doctor.code).toBe(1);
  expect(doctor.stdout).toContain("in the lab VM: bunx ioperm lab -- bun <script>");
  const probe = inProject(["bun", "x", "ioperm", "probe"]);
  expect(probe.code).toBe(2);
  expect(probe.stderr).toContain("To survey the lab VM's hardware instead: bunx ioperm probe --vm");
  const run = inProject(["bun", "rig.ts"]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain("run it inside the lab VM: bunx ioperm lab -- bun rig.ts");
  for (const out of [doctor.stdout, probe.stderr, run.stderr]) expect(out).not.toMatch(/bun run|lib\/cli\.ts|npm run|checkout/);
}, 60_000);

/** A script that imports every entry and uses something from each, as a user's would. */
const everyEntry = `import { open, ops, type Width } from "ioperm";
import { readRtc } from "ioperm/devices";
import "ioperm/embed";
import { type LabOptions, runLab } from "ioperm/lab";

const width: Width = 8;
const options: LabOptions = { command: ["bun", "rig.ts"] };
export const used = [open, ops.inb(0x70), readRtc, runLab, width, options];
`;

test("type-checks with bun init's tsconfig, and with every strict flag on (the package's own source included)", () => {
  writeFileSync(join(project, "index.ts"), everyEntry);
  const template = inProject([tsc, "--noEmit", "-p", "."]);
  expect(template.stdout + template.stderr).toBe("");
  expect(template.code).toBe(0);
  // The flags bun's template lists as "stricter", all on, and exactOptionalPropertyTypes too.
  const strict = readFileSync(join(project, "tsconfig.json"), "utf8")
    .replace(/"noUnusedLocals": false/, '"noUnusedLocals": true')
    .replace(/"noUnusedParameters": false/, '"noUnusedParameters": true')
    .replace(
      /"noPropertyAccessFromIndexSignature": false/,
      '"noPropertyAccessFromIndexSignature": true, "exactOptionalPropertyTypes": true',
    );
  expect(strict).toContain('"noPropertyAccessFromIndexSignature": true');
  expect(strict).toContain('"noUnusedLocals": true');
  writeFileSync(join(project, "tsconfig.strict.json"), strict);
  const r = inProject([tsc, "--noEmit", "-p", "tsconfig.strict.json"]);
  expect(r.stdout + r.stderr).toBe("");
  expect(r.code).toBe(0);
}, 120_000);

/** Compiles `entry` in the project, copies the executable alone into a new empty directory, runs it there. */
function compiledAlone(entry: string, name: string) {
  const built = inProject(["bun", "build", "--compile", entry, "--outfile", join(work, "out", name)]);
  if (built.code !== 0) throw new Error(`bun build --compile ${entry}: ${built.stderr}`);
  const empty = mkdtempSync(join(work, "empty-"));
  copyFileSync(join(work, "out", name), join(empty, name));
  Bun.spawnSync(["chmod", "+x", join(empty, name)]);
  return { ...inDir(empty, [`./${name}`]), size: statSync(join(empty, name)).size };
}

test("bun build --compile of a script importing only ioperm runs alone with the library embedded, and names itself to the lab", () => {
  const r = compiledAlone("rig.ts", "rig");
  // Refused here (no ioperm on this host), after the library loaded and answered.
  expect(r.code, r.stderr).toBe(2);
  const first = JSON.parse(r.stdout.split("\n")[0] ?? "") as { library: string; grants: unknown };
  expect(first.library).toMatch(/^\/\$bunfs\/.*libioperm.*\.so$/);
  expect(first.grants).toEqual({ backend: "none", all: false });
  expect(r.stderr).toContain("run it inside the lab VM: bunx ioperm lab -- ./rig");
  expect(r.stderr).not.toContain("LOAD_FAILED");
  // The optional import of ioperm/embed still builds and loads the same library.
  writeFileSync(join(project, "rig-embed.ts"), `import "ioperm/embed";\n${rig}`);
  const withEmbed = compiledAlone("rig-embed.ts", "rig-embed");
  expect(withEmbed.code, withEmbed.stderr).toBe(2);
  expect((JSON.parse(withEmbed.stdout.split("\n")[0] ?? "") as { library: string }).library).toMatch(/^\/\$bunfs\//);
  console.log(`newuser: compiled rig ${(r.size / 1048576).toFixed(1)} MiB`);
}, 180_000);
