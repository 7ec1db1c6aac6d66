// What this host's kernel says to a port grant, asked without the library (a
// raw ioperm syscall and an open of /dev/port in a separate python3 process),
// and so the one code a refused grant through the library must carry.
import { Errno, errnoName } from "../lib/status.ts";

/**
 * What this kernel says to a grant, asked without the library: ioperm(0x80, 1, 1)
 * as a raw syscall and an open of /dev/port, from a separate python3 process.
 */
export function kernelAnswers(): { ioperm: number; devport: number } {
  const py = `import ctypes, os, json
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.syscall(173, 0x80, 1, 1)  # SYS_ioperm on x86_64
io = 0 if rc == 0 else ctypes.get_errno()
try:
    os.close(os.open("/dev/port", os.O_RDWR)); dp = 0
except OSError as e:
    dp = e.errno
print(json.dumps({"ioperm": io, "devport": dp}))`;
  const r = Bun.spawnSync(["python3", "-c", py], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`python3 witness failed: ${r.stderr}`);
  return JSON.parse(r.stdout.toString()) as { ioperm: number; devport: number };
}

const kernel = kernelAnswers();
/** The one code a refused auto grant must carry here (ENOSYS with no /dev/port is NO_BACKEND). */
export const expectedRefusal: string | null =
  kernel.ioperm === 0 || kernel.devport === 0
    ? null
    : kernel.ioperm === Errno.ENOSYS && ([Errno.ENOENT, Errno.ENXIO, Errno.ENODEV] as number[]).includes(kernel.devport)
      ? "NO_BACKEND"
      : errnoName(kernel.ioperm);
