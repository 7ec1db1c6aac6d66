// The lab as a transparent pipe (lib/lab/vm.ts, init.sh, lib/cli/lab.ts): the guest
// command's stdout reaches ours and its stderr ours, apart, byte for byte; it sees a
// terminal only where we have one (the pty cases are in test/lab-cli.test.ts); and
// without a terminal `ioperm lab` names its run dir on stderr. Each case boots QEMU.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLab } from "../lib/lab/index.ts";
import { packageRoot as root } from "../lib/paths.ts";

const out = mkdtempSync(join(tmpdir(), "ioperm-labpipe-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function lab(args: string[]) {
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "lab", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("a transparent pipe: the guest's stdout reaches our stdout and its stderr our stderr, the guest sees no terminal in a pipe, and the run dir is named on stderr", () => {
  const run = join(out, "streams");
  // Interleaved on purpose: the two streams must not leak into each other whatever the order.
  const r = lab([
    "--out",
    run,
    "--",
    "sh",
    "-c",
    "echo out1; echo err1 >&2; echo out2; echo err2 >&2; test -t 1 || echo 'no tty' >&2; test -t 2 || exit 3",
  ]);
  expect(r.code).toBe(3);
  expect(r.stdout).toBe("out1\nout2\n");
  expect(r.stderr).toBe(`err1\nerr2\nno tty\nlab: run dir ${run}\n`);
  const tty = lab(["--out", join(out, "notty"), "--", "test", "-t", "1"]);
  expect(tty.code).toBe(1);
}, 120_000);

test("runLab keeps the streams apart: onOutput and onError live, output and stderr in the result, byte for byte (a JSON document on stdout parses)", async () => {
  const outChunks: string[] = [];
  const errChunks: string[] = [];
  const r = await runLab({
    command: ["sh", "-c", `printf '{"a": 1}'; printf '\\033[Kscanning…\\n' >&2; printf 'last' >&2`],
    outDir: join(out, "lib-streams"),
    onOutput: (t) => outChunks.push(t),
    onError: (t) => errChunks.push(t),
  });
  expect(r.exitCode).toBe(0);
  expect(JSON.parse(r.output)).toEqual({ a: 1 });
  expect(outChunks.join("")).toBe('{"a": 1}');
  expect(r.stderr).toBe("\u001b[Kscanning…\nlast");
  expect(errChunks.join("")).toBe(r.stderr);
}, 120_000);

test("ioperm probe --vm --json > file: the file is the report alone and parses (the probe's progress went to stderr)", () => {
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "probe", "--vm", "--json", "--only", "fwcfg"], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  const report = JSON.parse(r.stdout.toString()) as { fwcfg: { info: { signature: string } } };
  expect(report.fwcfg.info.signature).toBe("QEMU");
  expect(r.stdout.toString()).not.toContain("\u001b");
}, 120_000);
