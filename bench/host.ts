/**
 * Host cases: the cost of the library's call path, no port permission needed.
 *
 * The host cannot grant ports (no ioperm, no /dev/port), so a real access
 * would only ever be refused, and a refusal pays for building an IopermError.
 * To time the path a granted access takes, a handle is opened on the native
 * exports with the accessor replaced by an empty export of the same signature
 * (ioperm_nop for outb, ioperm_nop_prepared_run for a prepared batch), through the Ioperm
 * constructor's internal `symbols` parameter: every TypeScript step runs, the
 * instruction does not.
 */
import { do_not_optimize } from "mitata";
import { native } from "../lib/ffi.ts";
import { Ioperm, ops } from "../lib/index.ts";
import { TRACE_BLOCK } from "../lib/trace.ts";
import type { CaseSpec } from "./model.ts";

/** A case plus what must hold while it runs. */
export interface HostCase extends CaseSpec {
  /** Runs before timing; returns the undo. */
  setup?: () => () => void;
}

const PORT = 0x80;
const BATCH = 64;

export function hostCases(io: Ioperm): { cases: HostCase[]; skipped: { name: string; reason: string }[] } {
  const n = native();
  // Handles whose outb / batch is the empty export: the TypeScript path alone.
  const nopOut = new Ioperm({}, { ...n, ioperm_outb: n.ioperm_nop });
  const nopBatch = new Ioperm({}, { ...n, ioperm_prepared_run: n.ioperm_nop_prepared_run });
  // The same with a trace on, to /dev/null: every record is made, formatted and written, and no disk fills up.
  const tracedOut = new Ioperm({ trace: "/dev/null" }, { ...n, ioperm_outb: n.ioperm_nop });
  const base = { port: PORT, width: 8, op: "write", accesses: 1, floor: "ffi-nop" } as const;
  const skipped: { name: string; reason: string }[] = [];
  const cases: HostCase[] = [
    { ...base, name: "ffi-nop", path: "ffi-nop", fn: () => do_not_optimize(n.ioperm_nop(PORT, 0)) },
    { ...base, name: "ffi-refused", path: "ffi-refused", fn: () => do_not_optimize(n.ioperm_outb(PORT, 0)) },
    {
      ...base,
      name: "ts-api",
      path: "ts-api",
      fn: () => nopOut.outb(PORT, 0),
    },
    {
      ...base,
      name: "ts-port8",
      path: "ts-port8",
      fn: (
        (p) => () =>
          p.write(0)
      )(nopOut.port8(PORT, "w")),
    },
    {
      ...base,
      name: "ts-traced",
      path: "ts-traced",
      // A whole block per iteration, so every figure includes the block's formatting and write.
      accesses: TRACE_BLOCK,
      fn: () => {
        for (let i = 0; i < TRACE_BLOCK; i++) tracedOut.outb(PORT, 0);
      },
    },
    {
      ...base,
      name: "ts-refused",
      path: "ts-refused",
      fn: () => {
        try {
          io.outb(PORT, 0);
        } catch (e) {
          do_not_optimize(e);
        }
      },
    },
  ];
  const batch = nopBatch.prepare(Array.from({ length: BATCH }, () => ops.outb(PORT, 0)));
  cases.push({
    ...base,
    name: "ts-batch64-nop",
    path: "ts-batch64-nop",
    accesses: BATCH,
    fn: () => do_not_optimize(batch.run()),
  });
  return { cases, skipped };
}
