/*
 * ioperm_ioctl_names.h: every IOCTL of ioperm_ioctl.h, listed once with the
 * name the tools print and accept (iopermctl's `ioctl NAME`, iopermfuzz's
 * report), so a new IOCTL is added here and nowhere else. Only user-mode tools
 * include it; the driver and the Zig client use the codes themselves.
 *
 * IOPERM_IOCTLS(X) expands X(NAME) for each IOCTL_IOPERM_NAME, in code order.
 */
#ifndef IOPERM_IOCTL_NAMES_H
#define IOPERM_IOCTL_NAMES_H

#include "ioperm_ioctl.h"

#define IOPERM_IOCTLS(X)                                                                                               \
  X(VERSION)                                                                                                           \
  X(ALLOWLIST)                                                                                                         \
  X(READ)                                                                                                              \
  X(WRITE)                                                                                                             \
  X(BATCH)                                                                                                             \
  X(IOPM_GRANT)                                                                                                        \
  X(IOPM_REVOKE)                                                                                                       \
  X(PCI_READ)

/* One IOCTL's tool name ("VERSION") and code (IOCTL_IOPERM_VERSION). */
typedef struct IOPERM_IOCTL_NAME {
  const char *name;
  uint32_t code;
} IOPERM_IOCTL_NAME;

#define IOPERM_IOCTL_NAME_ENTRY(n) {#n, IOCTL_IOPERM_##n},
static const IOPERM_IOCTL_NAME ioperm_ioctl_names[] = {IOPERM_IOCTLS(IOPERM_IOCTL_NAME_ENTRY)};
#undef IOPERM_IOCTL_NAME_ENTRY

/* How many IOCTLs the protocol has. */
#define IOPERM_IOCTL_COUNT (sizeof ioperm_ioctl_names / sizeof ioperm_ioctl_names[0])

#endif
