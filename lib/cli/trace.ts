/**
 * `ioperm trace export FILE (--vcd | --svg) [-o OUT]`: turns a port trace
 * (open({ trace }) or IOPERM_TRACE=FILE) into a Value Change Dump for GTKWave,
 * PulseView and sigrok, or an SVG timing diagram of its LPT pins.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseTrace, TraceFormatError, toSvg, toVcd } from "../trace-export.ts";
import type { Command } from "./command.ts";

const usage = `usage: ioperm trace export FILE (--vcd [--wires] | --svg [--title TEXT]) [-o OUT]

Reads a port trace, written by open({ trace: FILE }) or IOPERM_TRACE=FILE, and
writes to stdout (or OUT):
  --vcd   a Value Change Dump: one bus per port an access ran on, and for an
          LPT base (0x378, 0x278, 0x3bc) one wire per pin (D0-D7, STROBE,
          AUTOFEED, INIT, SELECTIN, ACK, BUSY, PAPEROUT, SELECT, ERROR) at its
          connector level. Opens in GTKWave.
  --wires the pin wires only: libsigrok 0.5's VCD input (sigrok-cli,
          PulseView) stops at the first bus. Then sigrok decodes it:
            sigrok-cli -I vcd -i OUT -P parallel:clk=STROBE:d0=D0:…:d7=D7
  --svg   a timing diagram of the LPT pins and the data byte
  --title TEXT  the SVG's title

Exit status: 0; 1 when FILE is not a trace; 64 on a usage error.
`;

export const command: Command = {
  summary: "export a port trace (open({ trace })) as VCD for GTKWave/PulseView/sigrok, or as an SVG timing diagram",
  async run(args) {
    let values: { vcd?: boolean; wires?: boolean; svg?: boolean; output?: string; title?: string; help?: boolean };
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args,
        options: {
          vcd: { type: "boolean" },
          wires: { type: "boolean" },
          svg: { type: "boolean" },
          output: { type: "string", short: "o" },
          title: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
        allowPositionals: true,
      }));
    } catch (e) {
      process.stderr.write(`ioperm trace: ${(e as Error).message}\n${usage}`);
      return 64;
    }
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const [sub, file, ...rest] = positionals;
    if (sub !== "export" || file === undefined || rest.length > 0 || values.vcd === values.svg || (values.wires && !values.vcd)) {
      process.stderr.write(`ioperm trace: give export, one FILE and one of --vcd or --svg\n${usage}`);
      return 64;
    }
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      process.stderr.write(`ioperm trace: cannot read ${file}: ${(e as Error).message}\n`);
      return 1;
    }
    let out: string;
    try {
      const records = parseTrace(text);
      out = values.vcd ? toVcd(records, { wires: values.wires ?? false }) : toSvg(records, values.title);
    } catch (e) {
      if (!(e instanceof TraceFormatError)) throw e;
      process.stderr.write(`ioperm trace: ${file}: ${e.message}\n`);
      return 1;
    }
    if (values.output === undefined) process.stdout.write(out);
    else writeFileSync(values.output, out);
    return 0;
  },
};
