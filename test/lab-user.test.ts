// The lab as a user gets it: a new project outside the repo with the packed
// tarball installed, an empty per-user cache (IOPERM_CACHE), and only Bun and
// the system on PATH. There, `bunx ioperm lab` runs a script that strobes bytes
// out of LPT1 (witness: the host file QEMU wrote), and the worked example
// examples/lab-lpt.test.ts passes under `bun test`, then fails once the script
// sends something else. Prints the time from `bunx ioperm lab` to the script's
// first line, with the empty cache and then warm.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot as root } from "../lib/paths.ts";
import { type FreshProject, freshProject } from "./fresh-project.ts";

/** Bun and the system's directories only: no repo tools, no Zig. The lab's cache starts empty. */
let user: FreshProject;
let work = "";
let project = "";
const inProject = (cmd: string[]) => user.run(cmd);

afterAll(() => user?.remove());

beforeAll(() => {
  user = freshProject("ioperm-userlab-", (dir) => ({ IOPERM_CACHE: join(dir, "cache") }));
  ({ work, project } = user);
  writeFileSync(join(project, "package.json"), '{ "name": "rig", "private": true }\n');
  const add = inProject(["bun", "add", user.tarball]);
  if (add.code !== 0) throw new Error(`bun add failed: ${add.stderr}`);
  // The rig script: its start time, then "RIG" strobed out of LPT1.
  writeFileSync(
    join(project, "rig.ts"),
    `console.log(\`started \${Date.now()}\`);
import { open } from "ioperm";
using io = open();
io.grant(0x378, 3);
io.outb(0x37a, 0x0c);
for (const byte of new TextEncoder().encode(process.argv[2] ?? "RIG")) {
  io.outb(0x378, byte);
  io.outb(0x37a, 0x0d); // STROBE high, then low: the byte is latched
  io.outb(0x37a, 0x0c);
}
`,
  );
  for (const file of ["lab-lpt.test.ts", "lpt-strobe.ts"]) copyFileSync(join(root, "examples", file), join(project, file));
}, 120_000);

/** Runs `bunx ioperm lab` in the project; the seconds from its start to the script's first line (guest clock). */
function labRun(run: string, text: string) {
  const t0 = Date.now();
  const r = inProject(["bun", "x", "ioperm", "lab", "--out", run, "--", "bun", "rig.ts", text]);
  const started = Number(/started (\d+)/.exec(r.stdout)?.[1] ?? Number.NaN);
  return { ...r, toFirstLine: (started - t0) / 1000 };
}

test("bunx ioperm lab, empty cache then warm: the rig script's bytes reach the host LPT1 file; the cache fills on first use", () => {
  expect(readdirSync(work)).not.toContain("cache");
  const cold = labRun(join(work, "run-cold"), "RIG");
  expect(cold.code, cold.stderr).toBe(0);
  expect(readFileSync(join(work, "run-cold", "lpt1.out"), "utf8")).toBe("RIG");
  // What the first use installed: the Debian kernel, unpacked, and the initramfs built from it.
  const cache = user.env.IOPERM_CACHE ?? "";
  expect(readdirSync(join(cache, "kernel")).some((n) => n.startsWith("linux-image-"))).toBe(true);
  expect(readdirSync(cache).some((n) => /^initramfs-[0-9a-f]{16}\.cpio\.gz$/.test(n))).toBe(true);

  const warm = labRun(join(work, "run-warm"), "rig-2");
  expect(warm.code, warm.stderr).toBe(0);
  expect(readFileSync(join(work, "run-warm", "lpt1.out"), "utf8")).toBe("rig-2");
  console.log(
    `lab-user: bunx ioperm lab to the script's first line: ${cold.toFirstLine.toFixed(1)} s with an empty cache, ${warm.toFirstLine.toFixed(1)} s warm`,
  );
}, 300_000);

test("the worked example (examples/lab-lpt.test.ts) passes under the project's bun test, and fails when the script sends something else", () => {
  const pass = inProject(["bun", "test", "./lab-lpt.test.ts"]);
  expect(pass.code, pass.stderr).toBe(0);
  expect(pass.stderr).toContain("1 pass");
  // A bug in the script: every byte off by one.
  const script = join(project, "lpt-strobe.ts");
  writeFileSync(script, readFileSync(script, "utf8").replace("data.write(byte);", "data.write(byte + 1);"));
  expect(readFileSync(script, "utf8")).toContain("data.write(byte + 1);");
  const fail = inProject(["bun", "test", "./lab-lpt.test.ts"]);
  expect(fail.code).toBe(1);
  expect(fail.stderr).toContain("1 fail");
  expect(fail.stderr).toContain("(fail) lpt-strobe.ts puts its text on LPT1");
  expect(fail.stderr).toContain('+ "ifmmp\u000B"'); // what LPT1 received: "hello\n", each byte + 1 (bun prints the raw bytes)
}, 300_000);
