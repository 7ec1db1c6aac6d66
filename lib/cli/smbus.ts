/**
 * `ioperm smbus scan` and `ioperm smbus get ADDR REG [b|w]`: the PIIX4 or
 * Intel ICH/PCH SMBus host (lib/devices/smbus.ts) without a kernel driver, in
 * i2cdetect's and i2cget's formats.
 *   --json      scan: {controller, kind, bdf, base, addresses}; get: {address, register, mode, value}
 *   --force     go ahead although a kernel driver (i2c-piix4, i2c-i801) holds the range
 * Exit: 0 done, 1 refused or failed (no device answering is a failure of get), 64 usage.
 */
import { ControllerError } from "../devices/controller.ts";
import { readIoports } from "../devices/ioports.ts";
import { i2cdetectGrid, SmbusHost } from "../devices/smbus.ts";
import { IopermError, open } from "../index.ts";
import { EXIT, hexValue, parseNumber, splitOptions, UsageError } from "./args.ts";
import type { Command } from "./command.ts";

const USAGE = `usage: ioperm smbus scan [--json] [--force]
       ioperm smbus get ADDR REG [b|w] [--json] [--force]   (ADDR 7-bit, 0x03..0x77)`;

export const command: Command = {
  summary: "SMBus (PIIX4, Intel ICH/PCH) without a driver: scan (i2cdetect's grid), get ADDR REG [b|w]",
  async run(args) {
    let opts: ReturnType<typeof splitOptions>;
    const force = args.includes("--force");
    let get: { address: number; register: number; mode: "b" | "w" } | null = null;
    try {
      opts = splitOptions(args.filter((a) => a !== "--force"));
      const [sub, ...rest] = opts.rest;
      if (sub === "scan") {
        if (rest.length) throw new UsageError(`unexpected ${rest[0]}`);
      } else if (sub === "get") {
        const mode = rest[2] ?? "b";
        if (mode !== "b" && mode !== "w") throw new UsageError(`mode must be b (byte data) or w (word data), got ${mode}`);
        if (rest.length > 3) throw new UsageError(`unexpected ${rest[3]}`);
        const address = parseNumber(rest[0], "ADDR", 0x7f);
        if (address < 0x03 || address > 0x77)
          throw new UsageError(`ADDR must be 0x03..0x77 (7-bit, reserved addresses excluded), got ${rest[0]}`);
        get = { address, register: parseNumber(rest[1], "REG", 0xff), mode };
      } else throw new UsageError(sub === undefined ? "missing scan or get" : `unknown subcommand ${sub}`);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`ioperm smbus: ${e.message}\n${USAGE}`);
      return EXIT.usage;
    }
    const claims = readIoports();
    if (!claims && !force) {
      console.error(
        "ioperm smbus: /proc/ioports shows no addresses (not root?), so whether a driver holds the controller cannot be told; run as root, or pass --force",
      );
      return EXIT.refused;
    }
    try {
      using io = open({ backend: opts.backend });
      io.grant(0xcf8, 8); // the controller is found through PCI configuration space
      const { host, controller } = SmbusHost.open(io, claims === undefined ? { force } : { force, claims });
      if (get === null) {
        const addresses = host.scan();
        if (opts.json)
          console.log(
            JSON.stringify({ controller: controller.name, kind: controller.kind, bdf: controller.bdf, base: controller.base, addresses }),
          );
        else process.stdout.write(i2cdetectGrid(addresses));
        return EXIT.ok;
      }
      const value = get.mode === "w" ? host.readWord(get.address, get.register) : host.readByte(get.address, get.register);
      if (opts.json) console.log(JSON.stringify({ ...get, value }));
      else console.log(hexValue(value, get.mode === "w" ? 4 : 2));
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof IopermError) && !(e instanceof ControllerError)) throw e;
      console.error(`ioperm smbus: ${e.message}`);
      return EXIT.refused;
    }
  },
};
