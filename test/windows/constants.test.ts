// Values lib/driver.ts shares with C, checked against their sources (no Wine
// needed): the version block's field order against IOPERM_VERSION_INFO in the
// protocol header, and the service states against MinGW's winsvc.h (the one Zig
// ships, which the DLL is built against). Also the tools' IOCTL name list
// (ioperm_ioctl_names.h) against the codes the protocol header defines.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SERVICE_STATES, VERSION_FIELDS } from "../../lib/driver.ts";
import { errorFor } from "../../lib/errors.ts";
import { Status } from "../../lib/status.ts";
import { packageRoot as root } from "../../lib/paths.ts";
import { defineIn, zigHeader } from "../zig-headers.ts";

const header = readFileSync(join(root, "windows-driver/include/ioperm_ioctl.h"), "utf8");

test("VERSION_FIELDS is IOPERM_VERSION_INFO's members, in order", () => {
  const body = /typedef struct IOPERM_VERSION_INFO \{([\s\S]*?)\} IOPERM_VERSION_INFO;/.exec(header)?.[1] ?? "";
  const members = [...body.matchAll(/uint32_t (\w+);/g)].map((m) => (m[1] ?? "").replace(/_(\w)/g, (_, c: string) => c.toUpperCase()));
  expect(members).toEqual([...VERSION_FIELDS]);
});

test("SERVICE_STATES uses winsvc.h's numbers", () => {
  const winsvc = zigHeader("any-windows-any/winsvc.h");
  const def = (name: string) => defineIn(winsvc, name);
  expect(SERVICE_STATES).toEqual({
    [def("SERVICE_STOPPED")]: "stopped",
    [def("SERVICE_START_PENDING")]: "start-pending",
    [def("SERVICE_STOP_PENDING")]: "stop-pending",
    [def("SERVICE_RUNNING")]: "running",
  });
});

test("the AllowedPorts registry path in the error's remedy and in the Wine helper is the header's", () => {
  const str = (name: string) => new RegExp(`#define ${name}\\s+L"([^"]+)"`).exec(header)?.[1] ?? "";
  const key = `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${str("IOPERM_SERVICE_NAME")}\\${str("IOPERM_PARAMETERS_KEY")}`;
  expect(str("IOPERM_ALLOWLIST_VALUE")).toBe("AllowedPorts");
  expect(errorFor(Status.NOT_ALLOWED, { op: "inb", port: 0x80 }).message).toContain(`${key}\\${str("IOPERM_ALLOWLIST_VALUE")}`);
  const wineSh = readFileSync(join(root, "scripts/windows/wine.sh"), "utf8");
  expect(wineSh.toLowerCase()).toContain(`key='${key.toLowerCase()}'`);
  expect(wineSh).toContain(`/v ${str("IOPERM_ALLOWLIST_VALUE")}`);
});

test("ioperm_ioctl_names.h lists every IOCTL_IOPERM_* of the protocol header, once, in the header's order", () => {
  const names = readFileSync(join(root, "windows-driver/include/ioperm_ioctl_names.h"), "utf8");
  const list = /#define IOPERM_IOCTLS\(X\)([\s\S]*?)\n\n/.exec(names)?.[1] ?? "";
  const listed = [...list.matchAll(/X\((\w+)\)/g)].map((m) => m[1]);
  const defined = [...header.matchAll(/^#define IOCTL_IOPERM_(\w+) /gm)].map((m) => m[1]);
  expect(defined.length).toBeGreaterThan(0);
  expect(listed).toEqual(defined);
});
