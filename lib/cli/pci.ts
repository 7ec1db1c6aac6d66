/**
 * `ioperm pci [--json]`: the PCI functions, lspci-style, read through
 * configuration mechanism #1 (0xCF8/0xCFC, the only range it grants). On
 * Windows the driver does each read (PCI_READ) and keeps 0xCF8-0xCFF
 * denylisted, so nothing is granted there.
 */
import { scanPci } from "../devices/pci.ts";
import { IopermError, type Ioperm, open } from "../index.ts";
import { EXIT, splitOptions, UsageError, withGrant } from "./args.ts";
import type { Command } from "./command.ts";
import { hexDigits } from "../format.ts";

export const command: Command = {
  summary: "list the PCI functions in lspci -n's format (config mechanism #1)",
  async run(args) {
    let opts: ReturnType<typeof splitOptions>;
    try {
      opts = splitOptions(args);
      if (opts.rest.length > 0) throw new UsageError(`unexpected ${opts.rest[0]}`);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      console.error(`ioperm pci: ${e.message}\nusage: ioperm pci [--json] [--backend auto|direct|driver]`);
      return EXIT.usage;
    }
    const list = (io: Ioperm) => {
      const functions = scanPci(io);
      if (opts.json) console.log(JSON.stringify(functions));
      else
        for (const f of functions) {
          const h4 = (n: number) => hexDigits(n, 4);
          // lspci -n's own format, so the two can be compared line for line; --json adds the class name.
          const rev = f.revision ? ` (rev ${hexDigits(f.revision, 2)})` : "";
          console.log(`${f.bdf} ${h4(f.classCode >> 8)}: ${h4(f.vendor)}:${h4(f.deviceId)}${rev}`);
        }
    };
    if (process.platform !== "win32") return withGrant(opts.backend, 0xcf8, 8, "pci", list);
    try {
      using io = open({ backend: opts.backend });
      list(io);
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof IopermError)) throw e;
      console.error(`ioperm pci: ${e.message}`);
      return EXIT.refused;
    }
  },
};
