// Host unit tests: lib/status.ts mirrors zig/src/status.zig, checked against the built library.
import { expect, test } from "bun:test";
import { nativeStatusTable } from "../lib/ffi.ts";
import { Status, statusErrno, statusName } from "../lib/status.ts";

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
