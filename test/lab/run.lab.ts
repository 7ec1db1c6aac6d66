// `ioperm run`: root grants LPT1, drops to nobody, and the command keeps exactly
// that port. Witnesses: the host LPT file, `id` under the same launcher, the
// kernel refusing anything more (EPERM) or killing a raw `in` (SIGSEGV), and the
// command's /proc/<pid>/ read from outside.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { open } from "../../lib/index.ts";
import { devTool } from "../../lib/paths.ts";
import { asNobody } from "../nobody.ts";
import { eventually, hostFile } from "./witness.ts";

const tool = devTool("ioperm-run");
const withIopl = devTool("ioperm-with-iopl");
const asNobodyWith378 = [tool, "--uid", "65534", "--gid", "65534", "--grant", "0x378:3", "--"];
/** A child that executes `in` with no check (test/fixtures/raw-in.ts): the kernel alone decides. */
const rawIn = (port: string) => [process.execPath, "test/fixtures/raw-in.ts", port];
const spawn = (cmd: string[]) => Bun.spawnSync(cmd, { env: { ...process.env, HOME: "/tmp" }, stdout: "pipe", stderr: "pipe" });
const survived = (r: ReturnType<typeof spawn>) => ({ signal: r.signalCode, ran: r.stdout.toString().startsWith("in executed") });

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

test("an inherited iopl does not reach the command: its raw `in` on an ungranted port is killed by SIGSEGV (witness: the signal)", () => {
  // The plant: under ioperm-with-iopl (iopl 3) the same raw `in`, run as nobody, survives.
  expect(survived(spawn([withIopl, ...asNobody, ...rawIn("0x80")]))).toEqual({ signal: undefined, ran: true });
  expect(survived(spawn([withIopl, ...asNobodyWith378, ...rawIn("0x80")]))).toEqual({ signal: "SIGSEGV", ran: false });
  expect(survived(spawn([withIopl, ...asNobodyWith378, ...rawIn("0x379")]))).toEqual({ signal: undefined, ran: true });
  // The CLI reports the command's signal as a shell does: 128 + 11.
  const cli = spawn([withIopl, process.execPath, "lib/cli.ts", "run", "--grant", "0x378:3", "--user", "nobody", "--", ...rawIn("0x80")]);
  expect(cli.exitCode).toBe(139);
});

test("an inherited ioperm bit does not reach the command either (witness: the signal)", () => {
  using io = open({ backend: "direct" });
  io.grant(0x80, 1);
  // The plant: this thread's bitmap passes to a child, even one that drops to nobody.
  expect(survived(spawn([...asNobody, ...rawIn("0x80")]))).toEqual({ signal: undefined, ran: true });
  expect(survived(spawn([...asNobodyWith378, ...rawIn("0x80")]))).toEqual({ signal: "SIGSEGV", ran: false });
  expect(io.inb(0x80)).toBeGreaterThanOrEqual(0); // the invoker keeps its own
});

test("the command has its own session and no controlling terminal (TIOCSTI is EPERM), no capability in any set, and only fds 0-2 and the grants memfd, though its invoker has a terminal, ambient capabilities and a leaked fd; a SIGTERM to ioperm-run reaches it (witness: /proc/<pid>/ read from outside)", async () => {
  const p = Bun.spawn(
    [
      "script",
      "-qec",
      `setpriv --inh-caps +sys_rawio,+net_raw --ambient-caps +sys_rawio,+net_raw sh test/fixtures/run-invoker.sh ${tool}`,
      "/dev/null",
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  let out = "";
  let pid = 0;
  try {
    const reader = p.stdout.getReader();
    const started = /command (\d+) (\S+) (\S+)/;
    while (!started.test(out)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the command did not start: ${out} ${await new Response(p.stderr).text()}`);
      out += new TextDecoder().decode(chunk.value);
    }
    const m = started.exec(out) ?? [];
    pid = Number(m[1]);
    // The plant, as the invoker saw it: a terminal that nobody in its session can push
    // keystrokes into, and two ambient capabilities.
    expect(/invoker (\S+) (\S+) (\S+)/.exec(out)?.slice(1)).toEqual(["tty", "0000000000022000", "pushed"]);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [, ppid, , session, ttyNr] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    expect({ session: Number(session), ttyNr: Number(ttyNr), devTty: m[2], tiocsti: m[3] }).toEqual({
      session: pid,
      ttyNr: 0,
      devTty: "no-tty",
      tiocsti: "EPERM",
    });
    const status = Object.fromEntries(
      readFileSync(`/proc/${pid}/status`, "utf8")
        .split("\n")
        .filter((l) => /^(Cap\w+|NoNewPrivs|Uid|Gid):/.test(l))
        .map((l) => l.split(":").map((x) => x.trim().replace(/\s+/g, " "))),
    );
    expect(status).toEqual({
      Uid: "65534 65534 65534 65534",
      Gid: "65534 65534 65534 65534",
      CapInh: "0000000000000000",
      CapPrm: "0000000000000000",
      CapEff: "0000000000000000",
      CapBnd: "0000000000000000",
      CapAmb: "0000000000000000",
      NoNewPrivs: "1",
    });
    // The command's shell prints its line, then execs sleep: look once sleep is inside its
    // sleeping system call (nanosleep 35, clock_nanosleep 230), so neither a descriptor the
    // shell holds for a moment around its own redirections nor one the loader holds while
    // it maps sleep's libraries is counted. (A fresh-clone run once saw fd 4, the lowest
    // free, right after the exec and never again; what held it was not recorded, so any
    // other descriptor now fails naming its target.)
    const sleeping = () => /^(35|230) /.test(readFileSync(`/proc/${pid}/syscall`, "utf8"));
    for (let i = 0; i < 600 && !sleeping(); i++) await Bun.sleep(50);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\x00")).toEqual(["sleep", "600", ""]);
    expect(sleeping()).toBe(true);
    const fds = Object.fromEntries(readdirSync(`/proc/${pid}/fd`).map((fd) => [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)]));
    // Any other descriptor fails with what it points at.
    const { 0: _in, 1: _out, 2: _err, ...rest } = fds;
    expect([_in, _out, _err].every((t) => t !== undefined)).toBe(true);
    expect(rest).toEqual({ 3: "/memfd:ioperm-grants (deleted)" });
    // The leaked fd was there: ioperm-run (the invoker, exec'd) still holds it.
    expect(readlinkSync(`/proc/${ppid}/fd/7`)).toBe("/etc/passwd");
    // A SIGTERM to ioperm-run reaches the command, which it then reaps: the pid is gone.
    process.kill(Number(ppid), "SIGTERM");
    await p.exited;
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  } finally {
    if (pid > 0 && existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
    p.kill();
  }
});

test("group root is kept only when named (witness: `id -g` of the command)", () => {
  const refused = spawn([tool, "--uid", "65534", "--gid", "0", "--", "id", "-g"]);
  expect({ code: refused.exitCode, err: refused.stderr.toString() }).toMatchObject({ code: 125 });
  expect(refused.stderr.toString()).toContain("add --allow-gid-0");
  expect(spawn([tool, "--uid", "65534", "--gid", "0", "--allow-gid-0", "--", "id", "-g"]).stdout.toString().trim()).toBe("0");
  expect(run("id", "-g").stdout.toString().trim()).toBe("65534");
  const named = spawn([
    process.execPath,
    "lib/cli.ts",
    "run",
    "--grant",
    "0x378:3",
    "--user",
    "nobody",
    "--group",
    "root",
    "--",
    "id",
    "-g",
  ]);
  expect(named.stdout.toString().trim()).toBe("0");
});

test("installed setuid, it refuses to run (witness: the file's mode, and `id` never runs)", () => {
  const copy = "/var/tmp/ioperm-run-setuid";
  Bun.spawnSync(["install", "-m", "4755", "-o", "root", tool, copy]);
  const r = spawn([...asNobody, copy, "--uid", "65534", "--gid", "65534", "--", "id", "-u"]);
  expect({ code: r.exitCode, out: r.stdout.toString() }).toEqual({ code: 125, out: "" });
  expect(r.stderr.toString()).toContain("refusing to run setuid");
  // Real uid not root with effective root, without the setuid bit (setpriv): refused the same way.
  const mixed = spawn(["setpriv", "--ruid=65534", tool, "--uid", "65534", "--gid", "65534", "--", "id", "-u"]);
  expect({ code: mixed.exitCode, out: mixed.stdout.toString() }).toEqual({ code: 125, out: "" });
});

test("a user name that starts with '-' is a name, not an option of `id` (witness: the error names it)", () => {
  const r = spawn([process.execPath, "lib/cli.ts", "run", "--grant", "0x378:3", "--user", "-u", "--", "true"]);
  expect({ code: r.exitCode, err: r.stderr.toString().trim() }).toEqual({ code: 64, err: "ioperm run: no user named -u" });
});

test("a closed stdin is /dev/null for the command, never the grants memfd (witness: /proc/self/fd/0 of the command)", () => {
  const r = spawn(["sh", "-c", `exec <&-; exec ${tool} --uid 65534 --gid 65534 -- readlink /proc/self/fd/0 /proc/self/fd/3`]);
  expect(r.stdout.toString().trim().split("\n")).toEqual(["/dev/null", "/memfd:ioperm-grants (deleted)"]);
});
