// The ppdev backend: an ordinary user in group lp drives LPT1 through
// /dev/parport0 with no capability. The kernel's parport drivers are loaded
// here (and stay), so this file gets a VM of its own. Witnesses: the host LPT
// file, Debian's inb reading the status register as root, `id`.
// @lab-own-vm
import { beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { schemaErrors, validateProbe } from "../schema.ts";
import { eventually, hostFile } from "./witness.ts";

const lpGid = Number(readFileSync("/etc/group", "utf8").match(/^lp:x:(\d+):/m)?.[1] ?? "7");
const asLpUser = ["setpriv", "--reuid=65534", "--regid=65534", `--groups=${lpGid}`, "--inh-caps=-all"];
const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
const run = (prefix: string[], ...args: string[]) => {
  const r = Bun.spawnSync([...prefix, process.execPath, "test/fixtures/ppdev-user.ts", ...args], {
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`fixture exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as Record<string, unknown>;
};

beforeAll(() => {
  const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  for (const m of ["parport/parport.ko", "parport/parport_pc.ko", "char/ppdev.ko"])
    execFileSync("busybox", ["insmod", `/lib/modules/${release}/kernel/drivers/${m}`]);
  // What Debian's udev rule does for parallel ports: group lp, read-write for the group.
  execFileSync("sh", [
    "-c",
    `for i in $(seq 50); do [ -e /dev/parport0 ] && break; sleep 0.1; done; chgrp ${lpGid} /dev/parport0 && chmod 660 /dev/parport0`,
  ]);
});

test("a user in group lp writes bytes with a strobe, and reads status, through ppdev (witnesses: the host LPT file, Debian's inb, `id`)", async () => {
  expect(
    execFileSync(asLpUser[0] ?? "", [...asLpUser.slice(1), "id", "-u"])
      .toString()
      .trim(),
  ).toBe("65534");
  const before = hostFile("lpt1").length;
  const r = run(asLpUser, "send", "ppdev!");
  expect(r).toMatchObject({ uid: 65534, grant: "ok", backend: "ppdev", data: "!".charCodeAt(0) });
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + 6,
  );
  expect(file.subarray(before).toString()).toBe("ppdev!");
  // The same status lines as Debian's inb sees as root a moment later, ACK (bit 6) aside: it pulses after each strobe.
  expect((r.status as number) & 0xbf).toBe(Number(execFileSync("inb", ["0x379"]).toString().trim()) & 0xbf);
});

test("only the port's three registers: 0x80 and another port are NOT_GRANTED, status is read-only", () => {
  const r = run(asLpUser, "send", "x");
  expect({ port80: r.port80, port278: r.port278, statusWrite: r.statusWrite }).toEqual({
    port80: "NOT_GRANTED",
    port278: "NOT_GRANTED",
    statusWrite: "UNSUPPORTED",
  });
});

test("EBUSY while another process holds an exclusive claim, naming the device", async () => {
  const holder = Bun.spawn([...asLpUser, process.execPath, "test/fixtures/ppdev-user.ts", "hold", "4000"], {
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
  });
  const reader = holder.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(JSON.parse(first)).toMatchObject({ held: true });
  const r = run(asLpUser, "try");
  expect(r.grant).toBe("EBUSY");
  expect(String(r.message)).toContain("/dev/parport0 is busy (EBUSY)");
  await holder.exited;
  expect(run(asLpUser, "try").grant).toBe("ok"); // free again once the holder is gone
});

test("a user outside group lp gets EACCES with the remedy of joining it (witness: /dev/parport0's group and mode)", () => {
  expect(execFileSync("stat", ["-c", "%g %a", "/dev/parport0"]).toString().trim()).toBe(`${lpGid} 660`);
  const r = run(asNobody, "try");
  expect(r.grant).toBe("EACCES");
  expect(String(r.message)).toContain("join its group, lp on Debian: sudo usermod -aG lp $USER");
});

test("the probe, run by that user without port access, lists /dev/parport0 and surveys LPT1 through ppdev (witness: /proc/sys/dev/parport)", () => {
  const r = Bun.spawnSync([...asLpUser, process.execPath, "probe.ts", "--json"], {
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  const doc = JSON.parse(r.stdout.toString()) as {
    host: { backend: string; uid: number };
    lpt: { base: number; present: boolean; method: string }[];
    parports: unknown;
    notes: string[];
  };
  const base = Number(readFileSync("/proc/sys/dev/parport/parport0/base-addr", "utf8").trim().split(/\s+/)[0]);
  expect(doc.host).toMatchObject({ backend: "ppdev", uid: 65534 });
  expect(doc.parports).toEqual([{ device: "/dev/parport0", usable: true }]);
  expect(doc.lpt.map((p) => [p.base, p.present, p.method])).toEqual([[base, true, "ppdev"]]);
  expect(doc.notes[0]).toContain("surveyed through ppdev");
  expect(validateProbe(doc) ? "" : schemaErrors()).toBe("");
});

test("claims are per thread: a Worker cannot use or share this thread's claim (EBUSY at once, NOT_GRANTED), and claims the port once it is released (witness: the host LPT file)", async () => {
  const before = hostFile("lpt1").length;
  const r = Bun.spawnSync([...asLpUser, process.execPath, "test/fixtures/ppdev-threads.ts"], {
    env: { ...process.env, HOME: "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  const { whileHeld, afterRelease } = JSON.parse(r.stdout.toString());
  expect(whileHeld).toMatchObject({ before: "NOT_GRANTED", grant: "EBUSY", write: "NOT_GRANTED" });
  expect(whileHeld.message).toContain("another thread of this one holds it");
  expect(afterRelease).toEqual({ before: "NOT_GRANTED", grant: "ok", message: "", write: "ok" });
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + 3,
  );
  expect(file.subarray(before).toString()).toBe("MmW");
});
