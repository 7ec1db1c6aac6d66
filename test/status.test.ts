// Host unit tests: lib/status.ts mirrors zig/src/status.zig, and lib/ffi.ts's copies of
// grants.zig's backend table and platform.zig's Diagnosis, checked against the built library.
import { expect, test } from "bun:test";
import { DIAGNOSIS_FIELDS, nativeBackends, nativeDiagnosisFields, nativeStatusTable } from "../lib/ffi.ts";
import { ALL_PORTS, backendKinds, backendNames } from "../lib/index.ts";
import { Errno, Status, statusErrno, statusName } from "../lib/status.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../lib/paths.ts";
import { defineIn, zigHeader } from "./zig-headers.ts";

test("lib/status.ts equals the native status table", () => {
  expect(Object.fromEntries(nativeStatusTable())).toEqual({ ...Status });
});

test("status names: fixed codes, known and unknown errno", () => {
  expect(statusName(-5001)).toBe("NOT_GRANTED");
  expect(statusName(-1)).toBe("EPERM");
  expect(statusName(-38)).toBe("ENOSYS");
  expect(statusName(-71)).toBe("ERRNO_71");
  expect(statusErrno(-13)).toBe(13);
  expect(statusErrno(-5002)).toBeUndefined();
});

test("lib/index.ts's backend numbers and the all-ports flag equal zig/src/grants.zig's", () => {
  const native = nativeBackends();
  expect(native.names).toEqual([...backendNames]);
  expect(native.allPortsFlag).toBe(ALL_PORTS);
  // Opening by name uses the same numbers; "auto" is number 0.
  for (const [name, kind] of Object.entries(backendKinds)) expect(native.names[kind]).toBe(name === "auto" ? "none" : name);
});

test("lib/ffi.ts's DIAGNOSIS_FIELDS are zig/src/platform.zig's Diagnosis fields, in order", () => {
  // Each is an i32 (a compile-time check in platform.zig), so the Int32Array
  // nativeDiagnosis() passes has one slot per name.
  expect(nativeDiagnosisFields()).toEqual([...DIAGNOSIS_FIELDS]);
});

test("lib/status.ts's Errno numbers are Linux's (the asm-generic errno headers Zig ships)", () => {
  const headers = zigHeader("any-linux-any/asm-generic/errno-base.h") + zigHeader("any-linux-any/asm-generic/errno.h");
  for (const [name, n] of Object.entries(Errno)) expect({ name, n: defineIn(headers, name) }).toEqual({ name, n });
});

test("every export fn in zig/src/exports.zig (the C ABI) has a doc comment", () => {
  const lines = readFileSync(join(packageRoot, "zig/src/exports.zig"), "utf8").split("\n");
  const exports = lines.flatMap((l, i) =>
    l.startsWith("export fn ") ? [{ name: /export fn (\w+)/.exec(l)?.[1], doc: lines[i - 1]?.startsWith("///") }] : [],
  );
  expect(exports.length).toBeGreaterThan(40);
  expect(exports.filter((e) => !e.doc).map((e) => e.name)).toEqual([]);
});
