#!/usr/bin/env bun
/**
 * ioperm command line.
 *
 *   ioperm driver install [--auto] [PATH]   register ioperm.sys as a kernel service and start it (elevated)
 *   ioperm driver uninstall                 stop and delete the service (elevated)
 *   ioperm driver status                    not-installed | stopped | running | …
 *   ioperm driver version                   ask the running driver for its version
 *   ioperm probe [probe options]            the hardware survey (probe.ts)
 */
import { join } from "node:path";
import { IopermError } from "./errors.ts";
import { builtDriverPath, driverStatus, driverVersion, installDriver, uninstallDriver } from "./driver.ts";

async function main(argv: string[]): Promise<number> {
  const [group, verb, ...rest] = argv;
  if (group === "probe") {
    const p = Bun.spawnSync([process.execPath, join(import.meta.dir, "..", "probe.ts"), ...argv.slice(1)], { stdio: ["inherit", "inherit", "inherit"] });
    return p.exitCode ?? 1;
  }
  if (group !== "driver" || !verb || verb === "--help") {
    console.error(`usage:
  ioperm driver install [--auto] [PATH]   (default PATH: ${builtDriverPath()})
  ioperm driver uninstall
  ioperm driver status
  ioperm driver version
  ioperm probe [--json] [--only …] [--force] [--iopl] [--vm]`);
    return group === undefined || verb === "--help" ? 0 : 64;
  }
  try {
    switch (verb) {
      case "install": {
        const auto = rest.includes("--auto");
        const path = rest.find((a) => !a.startsWith("--")) ?? builtDriverPath();
        installDriver(path, { autoStart: auto });
        console.log(`installed ${path} as service ioperm (${auto ? "auto" : "demand"} start); state: ${driverStatus()}`);
        return 0;
      }
      case "uninstall":
        uninstallDriver();
        console.log("uninstalled service ioperm");
        return 0;
      case "status":
        console.log(driverStatus());
        return 0;
      case "version":
        console.log(JSON.stringify(driverVersion()));
        return 0;
      default:
        console.error(`ioperm driver: unknown command "${verb}" (install, uninstall, status, version)`);
        return 64;
    }
  } catch (e) {
    if (!(e instanceof IopermError)) throw e;
    console.error(`ioperm driver ${verb}: ${e.message}`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
