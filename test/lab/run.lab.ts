// `ioperm run`: root grants LPT1, drops to nobody, and the command keeps exactly
// that port. Witnesses: the host LPT file, `id` under the same launcher, and
// the kernel refusing anything more (EPERM).
import { expect, test } from "bun:test";
import { eventually, hostFile } from "./witness.ts";

const run = (...cmd: string[]) =>
  Bun.spawnSync([process.execPath, "lib/cli.ts", "run", "--grant", "0x378:3", "--user", "nobody", "--", ...cmd], {
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });

test("the command runs as nobody with no capability, no groups and no_new_privs (witnesses: `id`, the kernel's status of the same launch)", () => {
  const r = run("id", "-u");
  expect({ code: r.exitCode, out: r.stdout.toString().trim() }).toEqual({ code: 0, out: "65534" });
  const status = Object.fromEntries(
    run("sh", "-c", "grep -E '^(CapEff|CapPrm|NoNewPrivs|Groups):' /proc/self/status")
      .stdout.toString()
      .trim()
      .split("\n")
      .map((l) => l.split(":").map((x) => x.trim())),
  );
  expect(status).toEqual({ CapEff: "0000000000000000", CapPrm: "0000000000000000", NoNewPrivs: "1", Groups: "" });
});

test("it writes LPT1 (witness: the host LPT file), is refused 0x80 with NOT_GRANTED, and cannot grant more (EPERM)", async () => {
  const before = hostFile("lpt1").length;
  const r = run(process.execPath, "test/fixtures/run-child.ts", "0x4e");
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  const report = JSON.parse(r.stdout.toString());
  expect(report).toMatchObject({
    uid: 65534,
    granted378: true,
    granted37a: true,
    granted80: false,
    write: "ok",
    read80: { code: "NOT_GRANTED" },
    grant80: { code: "EPERM" },
  });
  expect(report.grant80.message).toContain("runs as uid 65534 without CAP_SYS_RAWIO");
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length > before,
  );
  expect([...file.subarray(before)]).toEqual([0x4e]);
});

test("a forged grant list (not root's, not sealed) is ignored: NOT_GRANTED, never a fault", () => {
  const r = Bun.spawnSync(
    [
      "setpriv",
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=-all",
      "sh",
      "-c",
      `exec 9</etc/hostname; IOPERM_GRANTS_FD=9 exec ${process.execPath} test/fixtures/run-child.ts`,
    ],
    { env: { ...process.env, HOME: "/tmp" }, stdout: "pipe", stderr: "pipe" },
  );
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  expect(JSON.parse(r.stdout.toString())).toMatchObject({ granted378: false, write: { code: "NOT_GRANTED" } });
});

test("usage errors exit 64; an unknown user is named", () => {
  expect(Bun.spawnSync([process.execPath, "lib/cli.ts", "run", "--user", "nobody"]).exitCode).toBe(64);
  const r = Bun.spawnSync([process.execPath, "lib/cli.ts", "run", "--grant", "0x378:3", "--user", "no-such-user", "--", "true"], {
    stderr: "pipe",
  });
  expect({ code: r.exitCode, err: r.stderr.toString().trim() }).toEqual({ code: 64, err: "ioperm run: no user named no-such-user" });
});
