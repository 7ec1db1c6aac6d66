/**
 * The driver benchmark, in bun.exe under Wine in the lab VM (bench/guest.ts
 * --wine starts it): times the driver cases and writes them as JSON to --out.
 *
 *   bun.exe bench/wine-guest.ts --out FILE [--time MS] [--rounds N] [--quick]
 */
import { writeFileSync } from "node:fs";
import { open } from "../lib/index.ts";
import { countNativeCalls, DRIVER_GRANTS, driverCases, handshakeCases } from "./lab.ts";
import { parseBenchArgs, say } from "./options.ts";
import { runCases, type Skipped } from "./runner.ts";

const { settings, values } = parseBenchArgs(Bun.argv.slice(2), { out: { type: "string" } }, () => 1);
const file = values.out as string | undefined;
if (file === undefined) throw new Error("bench/wine-guest.ts wants --out FILE (bench/guest.ts --wine starts it)");
const skipped: Skipped = [];
// Counted on a handle of its own, closed before the timed handle opens: each native call is one DeviceIoControl.
const calls = countNativeCalls("driver");
say(`wine: DeviceIoControl calls per handshake: batch ${calls.batch}, separate calls ${calls.ts}`);
using io = open({ backend: "driver" });
for (const g of DRIVER_GRANTS) io.grant(g.from, g.count);
const specs = [...driverCases(io), ...handshakeCases(io, "driver-", calls)];
say(`wine: driver backend, ${specs.length} cases, ${settings.minTimeMs} ms each`);
const cases = await runCases(settings, specs, skipped);
writeFileSync(file, `${JSON.stringify({ cases, skipped })}\n`);
