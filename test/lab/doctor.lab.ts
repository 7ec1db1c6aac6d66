// Why port I/O is refused, each cause created for real in the guest and named
// by the error and by `ioperm doctor`, with the causes that are absent left out.
// Witnesses: what the kernel itself reports for the process (/proc/<pid>/status
// read by the fixture's parent, `id`) and /sys/kernel/security/lockdown.
// Lockdown cannot be lifted, so this file gets a VM of its own and runs it last.
// @lab-own-vm
import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { CAP_SYS_RAWIO } from "../../lib/diagnose.ts";
import { asNobody } from "../nobody.ts";

interface Doctor {
  ok: boolean;
  causes: { id: string; what: string; remedy: string }[];
  facts: { uid: number; rawio: boolean; seccomp: number; lockdown: string | null };
}
interface Refusal {
  uid: number;
  code: string;
  message: string;
  after: string;
}

const bun = process.execPath;
const noRawio = ["setpriv", "--bounding-set=-sys_rawio", "--inh-caps=-sys_rawio"];
const seccomp = ["python3", "test/fixtures/seccomp-deny-ioperm.py"];

/** `ioperm doctor --json` and a refused grant (test/fixtures/unprivileged.ts), both under `prefix`. */
function under(prefix: readonly string[]): { doctor: Doctor; refusal: Refusal; exit: number } {
  const env = { ...process.env, HOME: "/tmp" };
  const d = Bun.spawnSync([...prefix, bun, "lib/cli.ts", "doctor", "--json"], { env, stdout: "pipe", stderr: "pipe" });
  const r = Bun.spawnSync([...prefix, bun, "test/fixtures/unprivileged.ts", "direct"], { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`fixture exited ${r.exitCode}: ${r.stderr}`);
  return { doctor: JSON.parse(d.stdout.toString()) as Doctor, refusal: JSON.parse(r.stdout.toString()) as Refusal, exit: d.exitCode ?? -1 };
}

const ids = (d: Doctor) => d.causes.map((c) => c.id);

test("no cause as root: doctor says port I/O is available and names nothing", () => {
  const { doctor, exit } = under([]);
  expect({ ok: doctor.ok, causes: ids(doctor), exit }).toEqual({ ok: true, causes: [], exit: 0 });
});

test("an ordinary user: EPERM names the uid and the setcap remedy, nothing else (witness: `id -u` under setpriv)", () => {
  expect(
    execFileSync(asNobody[0]!, [...asNobody.slice(1), "id", "-u"])
      .toString()
      .trim(),
  ).toBe("65534");
  const { doctor, refusal, exit } = under(asNobody);
  expect(ids(doctor)).toEqual(["not-root"]);
  expect({ code: refusal.code, after: refusal.after, exit }).toEqual({ code: "EPERM", after: "NOT_GRANTED", exit: 1 });
  expect(refusal.message).toContain("runs as uid 65534 without CAP_SYS_RAWIO");
  expect(refusal.message).toContain("sudo setcap cap_sys_rawio+ep");
  expect(refusal.message).not.toMatch(/lockdown|seccomp|--cap-add/);
});

test("root without CAP_SYS_RAWIO: names the container remedy --cap-add SYS_RAWIO (witness: CapEff in the kernel's status)", () => {
  const capEff = execFileSync(noRawio[0]!, [...noRawio.slice(1), "sh", "-c", "grep CapEff /proc/self/status"]).toString();
  expect((BigInt(`0x${capEff.split(/\s+/)[1]}`) >> CAP_SYS_RAWIO) & 1n).toBe(0n);
  const { doctor, refusal } = under(noRawio);
  expect(ids(doctor)).toEqual(["no-rawio-cap"]);
  expect(refusal.code).toBe("EPERM");
  expect(refusal.message).toContain("root but lacks CAP_SYS_RAWIO");
  expect(refusal.message).toContain("--cap-add SYS_RAWIO (not --privileged)");
  expect(refusal.message).not.toMatch(/lockdown|seccomp|setcap/);
});

test("a seccomp filter that refuses ioperm and iopl: named as such (witness: Seccomp: 2 in the kernel's status)", () => {
  expect(execFileSync(seccomp[0]!, [...seccomp.slice(1), "grep", "Seccomp:", "/proc/self/status"]).toString()).toMatch(/Seccomp:\s+2/);
  const { doctor, refusal } = under(seccomp);
  expect(ids(doctor)).toEqual(["seccomp"]);
  expect(refusal.code).toBe("EPERM");
  expect(refusal.message).toContain("seccomp filter");
  expect(refusal.message).not.toMatch(/lockdown|CAP_SYS_RAWIO|setcap/);
});

test("kernel lockdown (integrity), set last since it cannot be lifted: root is refused and told why (witness: /sys/kernel/security/lockdown)", () => {
  execFileSync("sh", ["-c", "mountpoint -q /sys/kernel/security || mount -t securityfs none /sys/kernel/security"]);
  execFileSync("sh", ["-c", "echo integrity > /sys/kernel/security/lockdown"]);
  expect(readFileSync("/sys/kernel/security/lockdown", "utf8")).toContain("[integrity]");
  const { doctor, refusal, exit } = under([]);
  expect({ ok: doctor.ok, causes: ids(doctor), exit }).toEqual({ ok: false, causes: ["lockdown"], exit: 1 });
  expect(refusal.code).toBe("EPERM");
  expect(refusal.message).toContain("the kernel is in lockdown (integrity");
  expect(refusal.message).toContain("Secure Boot");
  expect(refusal.message).not.toMatch(/seccomp|--cap-add|setcap/);
});
