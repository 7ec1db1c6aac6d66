// The IopermError code a call throws ("no error" when it returns); other errors propagate.
import { IopermError } from "../lib/index.ts";

export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof IopermError) return e.code;
    throw e;
  }
  return "no error";
}
