/**
 * `ioperm driver`: the Windows driver as a kernel service.
 *
 *   ioperm driver install [--auto] [PATH]   register ioperm.sys as a kernel service and start it (elevated)
 *   ioperm driver uninstall                 stop and delete the service (elevated)
 *   ioperm driver status                    not-installed | stopped | running | …
 *   ioperm driver version                   ask the running driver for its version
 */
import { allowlistWarning, builtDriverPath, driverStatus, driverVersion, installDriver, uninstallDriver } from "../driver.ts";
import { IopermError } from "../errors.ts";
import type { Command } from "./command.ts";

const usage = () => `usage:
  ioperm driver install [--auto] [PATH]   (default PATH: ${builtDriverPath()})
  ioperm driver uninstall
  ioperm driver status
  ioperm driver version`;

/** `ioperm driver install|uninstall|status|version`. */
export const command: Command = {
  summary: "install, uninstall, status or version of the Windows driver (ioperm.sys)",
  async run([verb, ...rest]) {
    if (!verb || verb === "--help" || verb === "-h") {
      console.error(usage());
      return verb ? 0 : 64;
    }
    try {
      switch (verb) {
        case "install": {
          const auto = rest.includes("--auto");
          const path = rest.find((a) => !a.startsWith("--")) ?? builtDriverPath();
          const installed = installDriver(path, { autoStart: auto });
          console.log(
            `installed ${path} as ${installed.path} (sha256 ${installed.sha256}), service ioperm (${auto ? "auto" : "demand"} start); state: ${driverStatus()}`,
          );
          const warning = allowlistWarning(installed.portsAbove0x400);
          if (warning !== null) console.error(warning);
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
          console.error(`ioperm driver: unknown command "${verb}" (install, uninstall, status, version)\n${usage()}`);
          return 64;
      }
    } catch (e) {
      if (!(e instanceof IopermError)) throw e;
      console.error(`ioperm driver ${verb}: ${e.message}`);
      return 1;
    }
  },
};
