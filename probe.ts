#!/usr/bin/env bun
/**
 * Surveys the legacy hardware that answers on this machine: parallel ports,
 * UARTs, the CMOS RTC, PCI configuration space, QEMU's fw_cfg, and the
 * controllers (a BMC on IPMI KCS, the SMBus host, the 8042).
 *
 *   bun run probe.ts [--json] [--only lpt,uart,rtc,pci,fwcfg,kcs,smbus,i8042] [--force] [--iopl] [--backend auto|direct|devport]
 *   bun run probe.ts --vm [--device SPEC]…   (the same survey inside the lab VM)
 *
 * The entry point of `ioperm-probe` (the package's bin and the compiled
 * executable); `ioperm probe` is the same command. The command is
 * lib/cli/probe.ts (parse, survey, render); the survey is lib/probe/ (shipped
 * as `ioperm/probe`). The --json output follows probe.schema.json.
 */
import { main } from "./lib/cli/probe.ts";

export { main };

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
