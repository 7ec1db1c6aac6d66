/**
 * `ioperm ipmi info` and `ioperm ipmi raw NETFN CMD [DATA…]`: IPMI over KCS
 * (lib/devices/kcs.ts) without a kernel driver, in ipmitool's formats.
 *   --json      info: the parsed Get Device ID; raw: {netfn, cmd, completionCode, data}
 *   --base B    the KCS data register (default 0xca2; status/command is B+1)
 *   --force     go ahead although a kernel driver (ipmi_si) holds the range
 * Exit: 0 done, 1 refused, failed or a non-zero completion code, 64 usage.
 */
import { ControllerError } from "../devices/controller.ts";
import { readIoports } from "../devices/ioports.ts";
import { getDeviceId, ipmiCompletionText, KCS_BASE, kcsRequest } from "../devices/kcs.ts";
import { portOwner } from "../devices/smbus.ts";
import { IopermError, type Ioperm, open } from "../index.ts";
import { EXIT, parseNumber, splitOptions, UsageError } from "./args.ts";
import type { Command } from "./command.ts";
import { hexDigits, hexLower } from "../format.ts";

const USAGE = `usage: ioperm ipmi info [--json] [--base 0xca2] [--force]
       ioperm ipmi raw NETFN CMD [DATA…] [--json] [--base 0xca2] [--force]   (bytes in hex, as ipmitool raw: 0x06 0x01)`;

/** A byte as ipmitool raw takes it: 0x06, 06 or 6 are all hex. */
function rawByte(text: string | undefined, what: string): number {
  if (text === undefined) throw new UsageError(`missing ${what}`);
  const m = /^(0x)?([0-9a-f]{1,2})$/i.exec(text);
  if (!m) throw new UsageError(`${what} must be a hex byte (0x06 or 06), got ${JSON.stringify(text)}`);
  return Number.parseInt(m[2] ?? "", 16);
}

/** Opens, checks that no driver holds the KCS range (unless forced), grants it, runs `f`. */
export function withKcs(name: string, base: number, force: boolean, backend: Parameters<typeof open>[0], f: (io: Ioperm) => void): number {
  const claims = readIoports();
  if (!claims && !force) {
    console.error(
      `ioperm ${name}: /proc/ioports shows no addresses (not root?), so whether a driver holds the KCS range cannot be told; run as root, or pass --force`,
    );
    return EXIT.refused;
  }
  const owner = claims ? portOwner(claims, base, 2) : null;
  if (owner?.driver && !force) {
    console.error(
      `ioperm ${name}: ${hexLower(base)}-${hexLower(base + 1)} is held by the kernel driver ${owner.driver} (/proc/ioports): ` +
        "use ipmitool through /dev/ipmi0 instead, unload the driver (rmmod ipmi_si), or pass --force",
    );
    return EXIT.refused;
  }
  try {
    using io = open(backend);
    io.grant(base, 2);
    f(io);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof IopermError) && !(e instanceof ControllerError)) throw e;
    console.error(`ioperm ${name}: ${e.message}`);
    return EXIT.refused;
  }
}

export const command: Command = {
  summary: "IPMI over KCS without a driver: info (Get Device ID), raw NETFN CMD [DATA…]",
  async run(args) {
    let opts: ReturnType<typeof splitOptions>;
    let base = KCS_BASE;
    const force = args.includes("--force");
    let request: { netfn: number; cmd: number; data: number[] } | null = null;
    try {
      opts = splitOptions(
        args.filter((a) => a !== "--force"),
        ["base"],
      );
      const [sub, ...rest] = opts.rest;
      const { base: baseText } = opts.values;
      if (baseText !== undefined) base = parseNumber(baseText, "--base", 0xfffe);
      if (sub === "info") {
        if (rest.length) throw new UsageError(`unexpected ${rest[0]}`);
      } else if (sub === "raw") {
        const netfn = rawByte(rest[0], "NETFN");
        if (netfn > 0x3f) throw new UsageError(`NETFN must be 0x00..0x3f, got ${rest[0]}`);
        request = { netfn, cmd: rawByte(rest[1], "CMD"), data: rest.slice(2).map((b, i) => rawByte(b, `DATA[${i}]`)) };
      } else throw new UsageError(sub === undefined ? "missing info or raw" : `unknown subcommand ${sub}`);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`ioperm ipmi: ${e.message}\n${USAGE}`);
      return EXIT.usage;
    }
    let code: number = EXIT.ok;
    const status = withKcs("ipmi", base, force, { backend: opts.backend }, (io) => {
      if (request === null) {
        const id = getDeviceId(io, { base });
        if (opts.json) {
          console.log(JSON.stringify(id));
          return;
        }
        // ipmitool mc info's layout, line for line where the fields are the same.
        const pad = (k: string) => k.padEnd(26);
        console.log(`${pad("Device ID")}: ${id.deviceId}`);
        console.log(`${pad("Device Revision")}: ${id.deviceRevision}`);
        console.log(`${pad("Firmware Revision")}: ${id.firmwareRevision}`);
        console.log(`${pad("IPMI Version")}: ${id.ipmiVersion}`);
        console.log(`${pad("Manufacturer ID")}: ${id.manufacturerId}`);
        console.log(`${pad("Product ID")}: ${id.productId} (${hexLower(id.productId, 4)})`);
        console.log(`${pad("Device Available")}: ${id.deviceAvailable ? "yes" : "no"}`);
        console.log(`${pad("Provides Device SDRs")}: ${id.providesSdrs ? "yes" : "no"}`);
        console.log(`${pad("Additional Device Support")}:`);
        for (const s of id.additionalSupport) console.log(`    ${s}`);
        return;
      }
      const r = kcsRequest(io, request.netfn, request.cmd, request.data, { base });
      if (opts.json) console.log(JSON.stringify(r));
      else if (r.completionCode !== 0)
        console.error(
          `Unable to send RAW command (netfn=${hexLower(request.netfn)} cmd=${hexLower(request.cmd)} rsp=${hexLower(r.completionCode)}): ${ipmiCompletionText(r.completionCode)}`,
        );
      else {
        // ipmitool raw: the data bytes in hex, 16 a line, each after a space.
        for (let i = 0; i < r.data.length; i += 16)
          console.log(
            r.data
              .slice(i, i + 16)
              .map((b) => ` ${hexDigits(b, 2)}`)
              .join(""),
          );
      }
      if (r.completionCode !== 0) code = EXIT.refused;
    });
    return status === EXIT.ok ? code : status;
  },
};
