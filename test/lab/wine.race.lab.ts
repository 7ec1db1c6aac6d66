// Closing ioperm.dll's device while another thread is using it, with real port
// I/O: Wine inside the lab VM (winedevice holds iopl(3) through
// ioperm-with-iopl), a bun.exe worker strobing LPT1 through the driver while the
// main thread uninstalls it (zig/src/windows/device.zig: every access holds the
// device's lifetime lock shared, closeDevice takes it exclusively). Witness: the
// host LPT file holds exactly the bytes the worker counted as sent, and its
// last access failed with the typed NOT_GRANTED, not DRIVER_IO or a crash.
// It leaves the prefix's driver registered its own way (installDriver() makes a
// demand-start service), so it runs last in the Wine VM: its name sorts after
// wine-fuzz.lab.ts and wine.lab.ts, and the guest runs a group's files in order.
// @lab-host-prepare sh scripts/windows/lab-prefix.sh
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { iopermDll, labWine, root, WineSession, winPath } from "../windows/lab-wine.ts";
import { devWindowsDir } from "../../lib/paths.ts";
import { eventually, hostFile } from "./witness.ts";

const info = labWine();
const why = typeof info === "string" ? info : info.bunExe === null ? "no bun.exe for the guest" : null;
let session: WineSession;

describe.skipIf(why !== null)(`closing the device under a running access, in Wine in the lab VM${why ? ` (skipped: ${why})` : ""}`, () => {
  beforeAll(() => {
    if (typeof info === "string") throw new Error(info); // unreachable: the describe is skipped then
    session = new WineSession(info);
    session.start();
  }, 180_000);
  afterAll(() => session?.stop());

  test("a worker's accesses racing uninstallDriver() end in NOT_GRANTED, never DRIVER_IO or a fault; every byte it counted reached LPT1 (witness: the host LPT file)", async () => {
    if (typeof info === "string" || info.bunExe === null) throw new Error("unreachable: the describe is skipped then");
    const before = hostFile("lpt1").length;
    const sys = join(devWindowsDir("x64"), "ioperm.sys");
    const r = session.run(info.bunExe, [winPath(join(root, "test/windows/guest/close-race.ts")), winPath(iopermDll), winPath(sys), "3"]);
    const rounds = r.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { byte: number; sent: number; code: unknown });
    expect({ exit: r.code, rounds: rounds.map((x) => x.code) }, r.lines.join("\n")).toEqual({
      exit: 0,
      rounds: ["NOT_GRANTED", "NOT_GRANTED", "NOT_GRANTED"],
    });
    const total = rounds.reduce((n, x) => n + x.sent, 0);
    for (const x of rounds) expect(x.sent).toBeGreaterThanOrEqual(10);
    const file = await eventually(
      () => hostFile("lpt1").subarray(before),
      (f) => f.length >= total,
    );
    expect([...file]).toEqual(rounds.flatMap((x) => Array<number>(x.sent).fill(x.byte)));
  }, 300_000);
});
