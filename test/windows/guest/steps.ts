// The step runner of the scripts that run inside Wine under bun.exe
// (test/windows/guest/api.ts for the host's Wine, test/lab/wine-guest.ts for the
// lab VM's): each step prints one JSON line, { step, rc: 0, ...fields } or the
// error's code. Import it dynamically, after IOPERM_LIB is set, as lib/ is.
import { IopermError } from "../../../lib/errors.ts";

/** What a step reports besides its name and rc. */
export type Fields = Record<string, unknown>;

/** Prints one step's JSON line. */
export const out = (step: string, fields: Fields) => console.log(JSON.stringify({ step, ...fields }));

/** Runs one step: rc 0 and its fields, or the error's code, errno and (for a batch) index. */
export function run(step: string, f: () => Fields | void): void {
  try {
    out(step, { rc: 0, ...(f() ?? {}) });
  } catch (e) {
    if (e instanceof IopermError) out(step, { rc: e.code, errno: e.errno ?? 0, index: e.index, message: e.message });
    else out(step, { rc: (e as Error).name, message: (e as Error).message });
  }
}
