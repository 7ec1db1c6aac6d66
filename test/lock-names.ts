// The lock names as the built library reports them (ioperm_bus_lock_name), read without lib/lock.ts.
import { native } from "../lib/ffi.ts";

export function nativeBusLockNames(): string[] {
  const names: string[] = [];
  for (let i = 0; ; i++) {
    const n = native().ioperm_bus_lock_name(i);
    if (n === null) return names;
    names.push(n.toString());
  }
}
