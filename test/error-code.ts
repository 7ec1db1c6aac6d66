// The IopermError code a call throws (`ok`, "no error" unless given, when it returns); other errors propagate.
import { IopermError } from "../lib/index.ts";

export function errorCode(f: () => unknown, ok = "no error"): string {
  try {
    f();
  } catch (e) {
    if (e instanceof IopermError) return e.code;
    throw e;
  }
  return ok;
}
