#!/usr/bin/env bun
/**
 * The `ioperm` command line: one module per command under lib/cli/, loaded only
 * when that command runs. `ioperm help` lists them.
 */
import type { Command } from "./cli/command.ts";
import { commandFor, markCliMain } from "./where.ts";

/** Every command, in the order `ioperm help` lists them. Each module exports `command`. */
const commands: Record<string, () => Promise<{ command: Command }>> = {
  probe: () => import("./cli/probe.ts"),
  inb: async () => ({ command: (await import("./cli/io.ts")).ioCommand("inb") }),
  inw: async () => ({ command: (await import("./cli/io.ts")).ioCommand("inw") }),
  inl: async () => ({ command: (await import("./cli/io.ts")).ioCommand("inl") }),
  outb: async () => ({ command: (await import("./cli/io.ts")).ioCommand("outb") }),
  outw: async () => ({ command: (await import("./cli/io.ts")).ioCommand("outw") }),
  outl: async () => ({ command: (await import("./cli/io.ts")).ioCommand("outl") }),
  dump: () => import("./cli/dump.ts"),
  watch: () => import("./cli/watch.ts"),
  pci: () => import("./cli/pci.ts"),
  ipmi: () => import("./cli/ipmi.ts"),
  smbus: () => import("./cli/smbus.ts"),
  doctor: () => import("./cli/doctor.ts"),
  run: () => import("./cli/run.ts"),
  driver: () => import("./cli/driver.ts"),
  lab: () => import("./cli/lab.ts"),
  trace: () => import("./cli/trace.ts"),
};

async function usage(): Promise<string> {
  const lines = ["usage: ioperm <command> [options]", ""];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).command.summary}`);
  lines.push("", `${commandFor("<command> --help")} for its options.`);
  return lines.join("\n");
}

/** Runs one command line; resolves with the exit code (64: usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(await usage());
    return name === undefined ? 64 : 0;
  }
  const load = commands[name];
  if (load === undefined) {
    console.error(`ioperm: unknown command "${name}"\n\n${await usage()}`);
    return 64;
  }
  return (await load()).command.run(rest);
}

if (import.meta.main) {
  markCliMain();
  process.exit(await main(process.argv.slice(2)));
}
