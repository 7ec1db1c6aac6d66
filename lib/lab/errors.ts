/** Why the lab could not give a command's exit code. */
export type LabErrorReason =
  /** The run outlived its timeout; QEMU was killed. */
  | "timeout"
  /** QEMU started but the command never did (boot failure, KVM hang). */
  | "boot"
  /** The guest stopped without recording an exit code (kernel panic). */
  | "no-exit-code"
  /** QEMU, busybox or the kernel is missing and could not be installed; the message says what to install. */
  | "setup"
  /** A --device names no device this QEMU has. */
  | "unknown-device"
  /** QEMU refused the machine's configuration (a bad property or option). */
  | "bad-config"
  /** Two devices claim the same I/O ports. */
  | "io-clash"
  /** The command is not found in the guest. */
  | "not-found"
  /** --kvm without a usable /dev/kvm. */
  | "no-kvm"
  /** The run dir or cache is not a directory only this user can write (someone else owns it, or group or others can write it). */
  | "unsafe-dir"
  /** A cached kernel or busybox no longer matches the SHA-256 recorded when it was fetched. */
  | "tampered";

/**
 * A lab run that produced no exit code, with the reason. `tail` holds the last
 * console lines and QEMU's stderr when there were any; `runDir` is "" when the
 * run never got one. No QEMU is left running when this is thrown.
 */
export class LabError extends Error {
  constructor(
    message: string,
    readonly reason: LabErrorReason,
    readonly runDir: string,
    readonly tail: string,
  ) {
    super(tail ? `${message}\n${tail}` : message);
    this.name = "LabError";
  }
}
