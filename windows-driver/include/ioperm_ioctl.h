/*
 * ioperm_ioctl.h: the protocol between ioperm.sys and its clients, the one
 * source of truth for IOCTL codes and request layouts. The driver includes it,
 * the Zig client imports it through translate-c (zig/build.zig), and the test
 * client (windows-driver/exe) includes it. Nothing here depends on the DDK or
 * the SDK, so all three see the same bytes.
 *
 * Every request is METHOD_BUFFERED and every length is exact: a buffer one byte
 * short or long is refused with STATUS_INFO_LENGTH_MISMATCH (Win32 error 24,
 * ERROR_BAD_LENGTH) before anything else is looked at. A well-formed port
 * request always completes with STATUS_SUCCESS and carries its own verdict in
 * `result` (IOPERM_RESULT_*), so a refusal can name the op it refused.
 */
#ifndef IOPERM_IOCTL_H
#define IOPERM_IOCTL_H

#include <stdint.h>

/* Bumped when a code or a layout below changes; the client refuses any other. */
#define IOPERM_PROTOCOL_VERSION 2u
/* The driver's own version, 0x00MMmmpp. */
#define IOPERM_DRIVER_VERSION 0x00000200u

/* Kernel name, DOS link, and the path user mode opens. */
#define IOPERM_NT_DEVICE_NAME  L"\\Device\\ioperm"
#define IOPERM_DOS_DEVICE_NAME L"\\DosDevices\\ioperm"
#define IOPERM_USER_PATH       L"\\\\.\\ioperm"
#define IOPERM_SERVICE_NAME    L"ioperm"

/*
 * Who may open the device: SYSTEM and Administrators, nobody else. The driver
 * applies exactly this descriptor (see ioperm_create_device_secure in
 * sys/ioperm.c); it is spelled here so that a test can compare it with what
 * Windows reports for \\.\ioperm.
 */
#define IOPERM_DEVICE_SDDL L"D:P(A;;GA;;;SY)(A;;GA;;;BA)"

/* Registry value under the service key's Parameters subkey (REG_MULTI_SZ of
 * "0x378" or "0x378-0x37F" entries). When present it replaces the default list. */
#define IOPERM_ALLOWLIST_VALUE L"AllowedPorts"
/* The subkey of the service key (HKLM\SYSTEM\CurrentControlSet\Services\<IOPERM_SERVICE_NAME>) that holds it. */
#define IOPERM_PARAMETERS_KEY L"Parameters"

/* A device type in the range reserved for vendors (0x8000-0xFFFF). */
#define IOPERM_DEVICE_TYPE 0xA10Fu

#define IOPERM_METHOD_BUFFERED 0u
#define IOPERM_FILE_READ_DATA  1u
#define IOPERM_FILE_WRITE_DATA 2u
#define IOPERM_CTL_CODE(function, access)                                                                              \
  ((IOPERM_DEVICE_TYPE << 16) | ((access) << 14) | ((function) << 2) | IOPERM_METHOD_BUFFERED)

/* in: nothing. out: IOPERM_VERSION_INFO. Touches no port. */
#define IOCTL_IOPERM_VERSION IOPERM_CTL_CODE(0x800u, IOPERM_FILE_READ_DATA)
/* in: nothing. out: IOPERM_ALLOWLIST (which ports the driver will run). Touches no port. */
#define IOCTL_IOPERM_ALLOWLIST IOPERM_CTL_CODE(0x801u, IOPERM_FILE_READ_DATA)
/* in: IOPERM_OP with flags 0. out: IOPERM_PORT_REPLY. */
#define IOCTL_IOPERM_READ IOPERM_CTL_CODE(0x810u, IOPERM_FILE_READ_DATA)
/* in: IOPERM_OP with flags IOPERM_OP_WRITE. out: IOPERM_PORT_REPLY. */
#define IOCTL_IOPERM_WRITE IOPERM_CTL_CODE(0x811u, IOPERM_FILE_WRITE_DATA)
/* in and out: IOPERM_BATCH_HEADER followed by `count` IOPERM_OPs. */
#define IOCTL_IOPERM_BATCH IOPERM_CTL_CODE(0x812u, IOPERM_FILE_READ_DATA | IOPERM_FILE_WRITE_DATA)
/* x86 (32-bit) Windows only, the seed's method: open the calling process's I/O
 * permission bitmap for an allowlisted range, so that its own in/out
 * instructions run without a round trip. in: IOPERM_RANGE. out: IOPERM_PORT_REPLY.
 * Held per handle and revoked when the handle's last user closes it
 * (IRP_MJ_CLEANUP). x64 builds answer STATUS_NOT_SUPPORTED. */
#define IOCTL_IOPERM_IOPM_GRANT IOPERM_CTL_CODE(0x820u, IOPERM_FILE_READ_DATA | IOPERM_FILE_WRITE_DATA)
/* x86 only: give back every IOPM range this handle holds. in: nothing. out: IOPERM_PORT_REPLY. */
#define IOCTL_IOPERM_IOPM_REVOKE IOPERM_CTL_CODE(0x821u, IOPERM_FILE_READ_DATA | IOPERM_FILE_WRITE_DATA)

/* One dword of PCI configuration space, read by the driver itself: it writes
 * the address to 0xCF8 and reads 0xCFC under one spin lock, so the pair cannot
 * be split by another request (0xCF8-0xCFF stay on the denylist: nothing can
 * write configuration space through this driver). Read-only, so FILE_READ_DATA.
 * in: IOPERM_PCI_ADDRESS. out: uint32_t, the dword (all ones where no function
 * answers). A length other than exactly these is ERROR_BAD_LENGTH (24); a field
 * above its IOPERM_PCI_MAX_* or an offset not a multiple of 4 is
 * ERROR_INVALID_PARAMETER (87), before any port is touched. */
#define IOCTL_IOPERM_PCI_READ IOPERM_CTL_CODE(0x830u, IOPERM_FILE_READ_DATA)
/* The largest value of each IOPERM_PCI_ADDRESS field (the driver, ioperm.dll and
 * lib/devices/pci.ts check the same limits; test/windows/pci.test.ts compares). */
#define IOPERM_PCI_MAX_BUS      255u
#define IOPERM_PCI_MAX_DEVICE   31u
#define IOPERM_PCI_MAX_FUNCTION 7u
#define IOPERM_PCI_MAX_OFFSET   252u

/* Capability bits in IOPERM_VERSION_INFO.capabilities. */
#define IOPERM_CAP_PORT_IO       0x1u  /* READ, WRITE and BATCH */
#define IOPERM_CAP_IOPM          0x2u  /* IOPM_GRANT/REVOKE (x86 build) */
#define IOPERM_CAP_REGISTRY_LIST 0x4u  /* the allowlist came from the registry */
#define IOPERM_CAP_PCI_READ      0x8u  /* PCI_READ */
#define IOPERM_CAP_TIMED_STEPS   0x10u /* WAIT, DELAY and PULSE in BATCH */

/* Verdicts in IOPERM_PORT_REPLY.result and IOPERM_BATCH_HEADER.result. */
#define IOPERM_RESULT_OK          0
#define IOPERM_RESULT_NOT_ALLOWED 1 /* a port is outside the allowlist: nothing ran */
#define IOPERM_RESULT_BAD_WIDTH   2 /* width is not 1, 2 or 4 */
#define IOPERM_RESULT_BAD_OP      3 /* unknown flags, or a flag that does not fit the IOCTL */
#define IOPERM_RESULT_RANGE       4 /* port + width passes 0xFFFF, or a value does not fit the width */
#define IOPERM_RESULT_TIMEOUT     5 /* a wait's timeout passed: ops before it ran, it and those after did not finish */
#define IOPERM_RESULT_TOO_LONG    6 /* a step's time, or the batch's total, is over its cap: nothing ran */

#define IOPERM_PORT_COUNT 0x10000u
/* Most op slots one BATCH may carry: 64 KiB of ops, one buffered copy each way. */
#define IOPERM_MAX_BATCH 8192u

/*
 * Op kinds, in IOPERM_OP.flags (any other value is BAD_OP). READ and WRITE
 * are one slot each. The three timed steps:
 *
 *   WAIT   two slots: the head {port, width, WAIT, value = timeout in us}, then
 *          an IOPERM_WAIT_PARAM {mask, expect}. Reads the port until
 *          (value & mask) == expect, at least once, and until the timeout has
 *          passed. On a timeout the batch stops with IOPERM_RESULT_TIMEOUT,
 *          `index` names the head, and IOPERM_BATCH_HEADER.value carries the
 *          last value read. mask and expect fit the width, and expect has no bit
 *          outside mask (it could never match): else RANGE.
 *   DELAY  one slot {port 0, width 0, DELAY, value = us}: a busy-wait on a
 *          monotonic clock (the performance counter in the driver, the vDSO's
 *          CLOCK_MONOTONIC in libioperm). A port or width other than 0 is BAD_OP.
 *   PULSE  two slots: the head {port, width, PULSE, value}, then an
 *          IOPERM_PULSE_PARAM {rest, hold_us}. Writes value, busy-waits hold_us
 *          from the end of that write, writes rest: the port holds value for at
 *          least hold_us. value and rest fit the width: else RANGE.
 *
 * Every slot is read as an op or a parameter by walking the list from index 0;
 * a head in the last slot has no parameter and is BAD_OP. Timed steps never
 * overwrite their slots, so a list can be run again as it is. `index` in a
 * reply is always a slot index (a head's, for a two-slot step).
 *
 * Caps: a step's time (a wait's timeout, a delay, a pulse's hold) is at most
 * IOPERM_MAX_STEP_US, and the sum of them over one batch (one call) at most
 * IOPERM_MAX_CALL_US; a request over either is TOO_LONG, naming the step that
 * passed it, before any op runs. The driver holds every request to these caps
 * itself, whatever its client sends, and it polls at PASSIVE_LEVEL: no request
 * holds a CPU longer than IOPERM_MAX_CALL_US of timed steps plus its accesses.
 */
#define IOPERM_OP_READ     0x00u
#define IOPERM_OP_WRITE    0x01u
#define IOPERM_OP_WAIT     0x02u
#define IOPERM_OP_DELAY    0x03u
#define IOPERM_OP_PULSE    0x04u
#define IOPERM_MAX_STEP_US 100000u
#define IOPERM_MAX_CALL_US 1000000u

/* One port access or the head of a timed step; the same 8 bytes as zig/src/core.zig `Op`
 * (checked at compile time there). */
typedef struct IOPERM_OP {
  uint16_t port;
  uint8_t width;  /* 1, 2 or 4 bytes; 0 for a DELAY */
  uint8_t flags;  /* IOPERM_OP_*: the kind */
  uint32_t value; /* written for a write; replaced by the value read for a read; see the kinds above */
} IOPERM_OP;

/* The slot after a WAIT head. */
typedef struct IOPERM_WAIT_PARAM {
  uint32_t mask;
  uint32_t expect;
} IOPERM_WAIT_PARAM;

/* The slot after a PULSE head. */
typedef struct IOPERM_PULSE_PARAM {
  uint32_t rest;    /* written once hold_us has passed */
  uint32_t hold_us; /* how long value stays on the port */
} IOPERM_PULSE_PARAM;

typedef struct IOPERM_PORT_REPLY {
  int32_t result; /* IOPERM_RESULT_* */
  uint32_t value; /* the value read (READ); 0 otherwise */
} IOPERM_PORT_REPLY;

typedef struct IOPERM_BATCH_HEADER {
  uint32_t count; /* ops that follow, 1..IOPERM_MAX_BATCH */
  int32_t result; /* out: IOPERM_RESULT_* */
  uint32_t index; /* out: the slot refused or timed out, or count when all ran */
  uint32_t value; /* in: 0. out: the last value a timed-out WAIT read; 0 otherwise */
} IOPERM_BATCH_HEADER;

typedef struct IOPERM_VERSION_INFO {
  uint32_t protocol;       /* IOPERM_PROTOCOL_VERSION */
  uint32_t driver_version; /* IOPERM_DRIVER_VERSION */
  uint32_t capabilities;   /* IOPERM_CAP_* */
  uint32_t max_batch;      /* IOPERM_MAX_BATCH */
  uint32_t op_size;        /* sizeof(IOPERM_OP) */
  uint32_t pointer_bits;   /* 32 or 64: which build of the driver answered */
} IOPERM_VERSION_INFO;

/* One bit per port, 1 = allowed; port p is bit (p % 8) of byte p / 8. */
typedef struct IOPERM_ALLOWLIST {
  uint8_t bits[IOPERM_PORT_COUNT / 8];
} IOPERM_ALLOWLIST;

typedef struct IOPERM_RANGE {
  uint32_t from;
  uint32_t count;
} IOPERM_RANGE;

/* Which configuration dword PCI_READ reads; each field is range-checked. */
typedef struct IOPERM_PCI_ADDRESS {
  uint32_t bus;      /* 0..IOPERM_PCI_MAX_BUS */
  uint32_t device;   /* 0..IOPERM_PCI_MAX_DEVICE */
  uint32_t function; /* 0..IOPERM_PCI_MAX_FUNCTION */
  uint32_t offset;   /* 0..IOPERM_PCI_MAX_OFFSET, a multiple of 4 */
} IOPERM_PCI_ADDRESS;

/*
 * The list used when the registry holds no AllowedPorts value: legacy devices
 * that are harmless to poke. Left out on purpose, until an administrator lists
 * them: PCI configuration (0xCF8-0xCFF, which includes the reset control
 * register 0xCF9), the keyboard controller (0x60, 0x64: it can reset the CPU
 * and gate A20), the PIC/PIT/DMA controllers, and CMOS/RTC (0x70-0x71).
 */
#define IOPERM_DEFAULT_ALLOWLIST(X)                                                                                    \
  X(0x0080, 0x0080) /* POST diagnostic code */                                                                         \
  X(0x0201, 0x0201) /* game port */                                                                                    \
  X(0x0278, 0x027F) /* LPT2 */                                                                                         \
  X(0x02E8, 0x02EF) /* COM4 */                                                                                         \
  X(0x02F8, 0x02FF) /* COM2 */                                                                                         \
  X(0x0378, 0x037F) /* LPT1 */                                                                                         \
  X(0x03BC, 0x03BF) /* LPT (MDA) */                                                                                    \
  X(0x03E8, 0x03EF) /* COM3 */                                                                                         \
  X(0x03F8, 0x03FF) /* COM1 */

/* Ports the driver never runs, whatever AllowedPorts says: applied after the
 * allowlist, so the ALLOWLIST IOCTL reports them as refused. Each can take the
 * machine or its data: DMA controllers (program a transfer anywhere), the
 * keyboard controller and port 0x92 (resets, A20), SMI (0xB2-0xB3), the ATA
 * ports (raw disk), and PCI configuration mechanism #1 (rewrite a BAR, then DMA;
 * 0xCF9 resets). PCI configuration reads have their own IOCTL instead. */
#define IOPERM_DENYLIST(X)                                                                                             \
  X(0x0000, 0x001F) /* DMA controller 1 (8237) */                                                                      \
  X(0x0060, 0x0060) /* keyboard controller data */                                                                     \
  X(0x0064, 0x0064) /* keyboard controller command: reset, A20 */                                                      \
  X(0x0092, 0x0092) /* system control port A: fast reset, A20 */                                                       \
  X(0x00B2, 0x00B3) /* APM/SMI command and status */                                                                   \
  X(0x00C0, 0x00DF) /* DMA controller 2 */                                                                             \
  X(0x0170, 0x0177) /* ATA secondary */                                                                                \
  X(0x01F0, 0x01F7) /* ATA primary */                                                                                  \
  X(0x0376, 0x0376) /* ATA secondary control */                                                                        \
  X(0x03F6, 0x03F6) /* ATA primary control */                                                                          \
  X(0x0CF8, 0x0CFF) /* PCI configuration mechanism #1, and 0xCF9 reset */

#endif /* IOPERM_IOCTL_H */
