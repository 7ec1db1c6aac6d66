/*
 * What the driver's files share (ioperm.c: load, unload and dispatch;
 * ports.c: the port-access IOCTLs; allowlist.c: which ports; iopm.c: the x86 IOPM grant; pci.c: PCI
 * configuration reads; runtime.c: NX pool and the stack guard). Not a user-mode
 * header: the protocol is ../include/ioperm_ioctl.h. test/windows/iopm/ntifs.h
 * stands in for <ntifs.h> when iopm.c is tested on the host.
 */
#ifndef IOPERM_PRIVATE_H
#define IOPERM_PRIVATE_H

#include <ntifs.h>
#include "ioperm_ioctl.h"

#if defined(__i386__)
#define IOPERM_HAS_IOPM 1
#else
#define IOPERM_HAS_IOPM 0
#endif

#define IOPERM_TAG 'prOI' /* "IOrp" in pool dumps */

#if IOPERM_HAS_IOPM
/* Undocumented, exported by 32-bit ntoskrnl only. Map 1 is the one I/O access
 * map a process can be pointed at; map 0 means "no access map". In the CPU's
 * convention a 0 bit lets the port through. */
#define IOPM_SIZE 0x2000
typedef UCHAR KIO_ACCESS_MAP[IOPM_SIZE];
NTKERNELAPI BOOLEAN NTAPI Ke386SetIoAccessMap(ULONG MapNumber, KIO_ACCESS_MAP *Map);
NTKERNELAPI BOOLEAN NTAPI Ke386QueryIoAccessMap(ULONG MapNumber, KIO_ACCESS_MAP *Map);
NTKERNELAPI BOOLEAN NTAPI Ke386IoSetAccessProcess(PEPROCESS Process, ULONG MapNumber);

/* What one handle opened in its process's bitmap (FileObject->FsContext2).
 * Every field is guarded by IOPERM_DEVICE.iopm_lock; the lifetime is in iopm.c. */
typedef struct IOPERM_HANDLE {
  LIST_ENTRY link;          /* in IOPERM_DEVICE.handles while `linked` */
  BOOLEAN linked;           /* holds a grant: linked, process referenced */
  BOOLEAN closed;           /* IRP_MJ_CLEANUP has run: grants are refused */
  PEPROCESS process;        /* referenced while linked */
  UCHAR granted[IOPM_SIZE]; /* 1 = granted, the allowlist's convention */
} IOPERM_HANDLE;
#endif

typedef struct IOPERM_DEVICE {
  IOPERM_ALLOWLIST allowed; /* written in DriverEntry, read-only afterwards */
  ULONG capabilities;
  KSPIN_LOCK pci_lock; /* pairs the 0xCF8 write with the 0xCFC read (pci.c) */
#if IOPERM_HAS_IOPM
  FAST_MUTEX iopm_lock;  /* guards handles, map, check and every IOPERM_HANDLE */
  LIST_ENTRY handles;    /* IOPERM_HANDLE with a grant */
  KIO_ACCESS_MAP *map;   /* the union of every handle's grant, CPU convention */
  KIO_ACCESS_MAP *check; /* map 1 read back; allocated at load so revoke never allocates */
#endif
} IOPERM_DEVICE;

/* runtime.c: non-executable pool (HVCI), and the stack-protector guard. */
PVOID ioperm_alloc(SIZE_T size);
void ioperm_free(PVOID p);
void ioperm_seed_guard(PVOID salt);

/* allowlist.c */
BOOLEAN ioperm_allowed(const IOPERM_DEVICE *d, ULONG port, ULONG count);
NTSTATUS ioperm_load_allowlist(IOPERM_DEVICE *d, PUNICODE_STRING registry_path);

/* pci.c */
NTSTATUS ioperm_pci_read(IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);

/* ports.c: a request's lengths are exactly these, or STATUS_INFO_LENGTH_MISMATCH. */
NTSTATUS ioperm_exact(ULONG in, ULONG want_in, ULONG out, ULONG want_out);

/* ports.c: the port-access IOCTLs, each with exact lengths, then contents checked.
 * ioperm_single serves READ (flags 0) and WRITE (flags IOPERM_OP_WRITE). */
NTSTATUS ioperm_version(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);
NTSTATUS ioperm_allowlist(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);
NTSTATUS ioperm_single(const IOPERM_DEVICE *d, UCHAR flags, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);
NTSTATUS ioperm_batch(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);

#if IOPERM_HAS_IOPM
/* iopm.c */
NTSTATUS ioperm_iopm_grant(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);
NTSTATUS ioperm_iopm_revoke(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info);
void ioperm_iopm_revoke_locked(IOPERM_DEVICE *d, IOPERM_HANDLE *h);
void ioperm_iopm_cleanup(IOPERM_DEVICE *d, IOPERM_HANDLE *h);
void ioperm_iopm_close(IOPERM_DEVICE *d, IOPERM_HANDLE *h);
#endif

#endif
