// Host unit tests of the rules that turn what the kernel says into named causes
// (lib/diagnose.ts). Each cause is also created for real in test/lab/doctor.lab.ts.
import { expect, test } from "bun:test";
import { CAP_SYS_RAWIO, causes, type Facts } from "../lib/diagnose.ts";
import { defineIn, zigHeader } from "./zig-headers.ts";

const root: Facts = { lockdown: "none", uid: 0, rawio: true, rawioBounding: true, seccomp: 0, devPort: true, kernel: [6, 1] };
const ids = (f: Partial<Facts>, a: Parameters<typeof causes>[1] = {}) => causes({ ...root, ...f }, a).map((c) => c.id);

test("nothing wrong: no cause", () => {
  expect(ids({})).toEqual([]);
});
test("each cause alone, and only it", () => {
  expect(ids({ lockdown: "integrity" }, { osError: 1 })).toEqual(["lockdown"]);
  expect(ids({ lockdown: null }, { osError: 1 })).toEqual([]); // securityfs not mounted: lockdown not claimed
  expect(ids({ seccomp: 2 }, { osError: 1 })).toEqual(["seccomp"]);
  expect(ids({ seccomp: 2 }, {})).toEqual([]); // a filter that did not refuse ioperm is not a cause
  expect(ids({ rawio: false })).toEqual(["no-rawio-cap"]);
  expect(ids({ uid: 1000, rawio: false })).toEqual(["not-root"]);
  expect(ids({ uid: 1000, rawio: true })).toEqual([]); // setcap'd Bun
  expect(ids({}, { osError: 38 })).toEqual(["no-ioperm-syscall"]);
  expect(ids({ devPort: false }, { osError: 38, devportErrno: 2 })).toEqual(["no-ioperm-syscall"]);
  expect(ids({ devPort: false }, { devportErrno: 2 })).toEqual(["no-dev-port"]);
  expect(ids({ kernel: [5, 4] }, { osError: 22, lastPort: 0x400 })).toEqual(["high-range-old-kernel"]);
  expect(ids({ kernel: [5, 4] }, { osError: 22, lastPort: 0x3ff })).toEqual([]);
  expect(ids({ kernel: [5, 5] }, { osError: 22, lastPort: 0x400 })).toEqual([]);
});
test("what refuses even root comes first", () => {
  expect(ids({ lockdown: "confidentiality", uid: 1000, rawio: false }, { osError: 1 })).toEqual(["lockdown", "not-root"]);
});
test("the remedies: the container hint is --cap-add, never --privileged alone", () => {
  const [c] = causes({ ...root, rawio: false, rawioBounding: false });
  expect(c?.remedy).toContain("--cap-add SYS_RAWIO (not --privileged)");
  expect(c?.what).toContain("not even in the bounding set");
  const [ns] = causes({ ...root, devPort: false }, { osError: 38 });
  expect(ns?.what).toContain("/dev/port is missing too");
});

test("CAP_SYS_RAWIO is <linux/capability.h>'s bit (the header Zig ships)", () => {
  expect(CAP_SYS_RAWIO).toBe(BigInt(defineIn(zigHeader("any-linux-any/linux/capability.h"), "CAP_SYS_RAWIO")));
});
