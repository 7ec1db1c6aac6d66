/**
 * `ioperm probe`, and `ioperm-probe` (probe.ts): parse the options, survey
 * through the library (lib/probe/), render the report. Exit: 0 surveyed, 2 no
 * port access, 3 a survey step failed, 64 usage (125: --vm could not run the lab).
 */
import { parseArgs } from "node:util";
import { type BackendName, type Ioperm, IopermError } from "../index.ts";
import { ppdevReport, ppdevUsable } from "../probe/ppdev.ts";
import { refusalJson, refusalText, renderJson, renderText, ttyProgress } from "../probe/render.ts";
import { SECTIONS, type Section } from "../probe/report.ts";
import { openForSurvey, parseSections, survey } from "../probe/survey.ts";
import { probeInVm } from "../probe/vm.ts";
import type { Command } from "./command.ts";

const USAGE = `Surveys the legacy hardware that answers: parallel ports, UARTs, the CMOS RTC,
PCI configuration space, QEMU's fw_cfg, a BMC on IPMI KCS, the SMBus host and the 8042.

  ioperm-probe [--json] [--only lpt,uart,rtc,pci,fwcfg,kcs,smbus,i8042] [--force] [--iopl] [--backend auto|direct|devport]
  ioperm-probe --vm [--device SPEC]…   (the same survey inside the lab VM)

Safe by default: reads before it writes, restores what it changes, grants only
the ranges it probes (every port with --iopl, only when asked), and leaves
state-changing detection off ranges the kernel has claimed unless --force.
--json output follows probe.schema.json. Exit: 0 surveyed, 2 no port access, 64 usage.`;

function parseProbeArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      only: { type: "string" },
      force: { type: "boolean", default: false },
      iopl: { type: "boolean", default: false },
      backend: { type: "string", default: "auto" },
      vm: { type: "boolean", default: false },
      device: { type: "string", multiple: true },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
}

/** The probe as a command: resolves with its exit code (probe.ts and the compiled ioperm-probe call this). */
export async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseProbeArgs>["values"];
  try {
    values = parseProbeArgs(argv).values;
  } catch (e) {
    console.error(`probe: ${(e as Error).message}\n\n${USAGE}`);
    return 64;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.vm) return probeInVm(argv, values.device ?? []);
  let only: Set<Section>;
  try {
    only = parseSections(values.only ?? SECTIONS.join(","));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    console.error(`probe: ${e.message}`);
    return 64;
  }
  const print = (text: string) => console.log(text);
  const backend = values.backend as BackendName;
  let opened: { io: Ioperm; backend: string };
  try {
    opened = openForSurvey({ backend, iopl: values.iopl });
  } catch (e) {
    if (!(e instanceof IopermError) && !(e instanceof RangeError)) throw e;
    // No port access, but a parallel port the kernel's ppdev offers this user: survey that.
    if ((backend === "auto" || backend === "ppdev") && ppdevUsable()) {
      const report = ppdevReport(e.message);
      print(values.json ? renderJson(report) : renderText(report));
      return 0;
    }
    if (values.json) print(refusalJson(e instanceof IopermError ? e.code : "RANGE", e.message));
    else console.error(refusalText(e.message));
    return 2;
  }
  const { io } = opened;
  try {
    const report = survey(io, { only, force: values.force, backend: opened.backend, progress: ttyProgress });
    print(values.json ? renderJson(report) : renderText(report));
    return 0;
  } catch (e) {
    if (!(e instanceof IopermError)) throw e;
    console.error(`probe: ${e.message}`);
    return 3;
  } finally {
    io.close();
  }
}

/** `ioperm probe`: the survey, in this process. */
export const command: Command = {
  summary: "survey the legacy hardware that answers (probe.ts; --help for its options)",
  run: main,
};
