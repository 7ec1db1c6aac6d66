// Each script in examples/ run as a user would (bun examples/<name>.ts), checked
// against its witness. The PC-speaker example is checked on the host, from the
// WAV QEMU writes once the VM is down (test/pcspk.test.ts); fw-cfg.ts in the
// VM that has an extra fw_cfg file (probe-extra.lab.ts).
// @lab-qemu-trace parallel_ioport_write
import { expect, test } from "bun:test";
import { bracketClock, eventually, hostFile, parallelTraceWrites } from "./witness.ts";

function example(name: string, ...args: string[]): string {
  const r = Bun.spawnSync([process.execPath, `examples/${name}.ts`, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`examples/${name}.ts exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout.toString();
}

test("lpt-strobe.ts: the bytes land in order (witness: the host LPT file)", async () => {
  const before = hostFile("lpt1").length;
  const text = `strobe ${process.pid}\n`;
  example("lpt-strobe", "0x378", text);
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + text.length,
  );
  expect(file.subarray(before).toString()).toBe(text);
});

test("trigger-pulse.ts: the code, then 0, held at least the width asked (witnesses: the host LPT file; QEMU's trace of each data write, on the host's clock)", async () => {
  const before = hostFile("lpt1").length;
  const code = 0x2a + (process.pid % 0x40); // a value of this run's own, to find its writes in the trace
  const out = JSON.parse(example("trigger-pulse", String(code), "2000")) as { code: number; requestedUs: number };
  expect(out).toEqual({ code, requestedUs: 2000 });
  const file = await eventually(
    () => hostFile("lpt1"),
    (f) => f.length >= before + 2,
  );
  expect([...file.subarray(before)]).toEqual([code, 0]);
  const writes = parallelTraceWrites(0);
  const at = writes.findLastIndex((w) => w.value === code);
  expect({ found: at >= 0, next: writes[at + 1]?.value }).toEqual({ found: true, next: 0 });
  expect((writes[at + 1]?.us ?? 0) - (writes[at]?.us ?? 0)).toBeGreaterThanOrEqual(2000);
});

test("cmos-clock.ts: between two reads of the RTC by the guest kernel, right before and after (witness: rtc0's since_epoch)", () => {
  const b = bracketClock(
    () => example("cmos-clock"),
    (out) => Date.parse((JSON.parse(out) as { time: string }).time),
  );
  expect(b).toMatchObject({ within: true });
});

test("pci-list.ts: what lspci -n prints (witness: pciutils)", () => {
  expect(example("pci-list").trim()).toBe(Bun.spawnSync(["lspci", "-n"]).stdout.toString().trim());
});

test("uart-loopback.ts: echoed in loopback with nothing on the line; sent on the line without it (witness: the host COM2 file)", async () => {
  const before = hostFile("com2").length;
  expect(JSON.parse(example("uart-loopback", "0x2f8", "ping-loop"))).toEqual({ loopback: true, sent: "ping-loop", echoed: "ping-loop" });
  await Bun.sleep(200);
  expect(hostFile("com2").length).toBe(before);
  expect(JSON.parse(example("uart-loopback", "0x2f8", "ping-line", "--no-loopback"))).toMatchObject({ loopback: false, echoed: "" });
  const file = await eventually(
    () => hostFile("com2").toString(),
    (s) => s.includes("ping-line"),
  );
  expect(file.slice(before)).toBe("ping-line");
});
