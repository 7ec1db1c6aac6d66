/*
 * ioperm.sys: port I/O on behalf of SYSTEM and Administrators, limited to an
 * allowlist. A legacy (non-PnP) WDM driver: one control device, no hardware.
 *
 * Who may ask:  the device's DACL (SYSTEM and Administrators only) applies to
 *               every open, including opens of names below the device
 *               (FILE_DEVICE_SECURE_OPEN); every IOCTL also requires
 *               FILE_READ_DATA and/or FILE_WRITE_DATA in the handle.
 * What they may send: every request length is exact, checked before the
 *               buffer is read (see ioperm_ioctl.h).
 * PCI config:   read-only, one dword per request, done by the driver (pci.c).
 * Which ports:  the allowlist, read once from the service's Parameters key
 *               when the driver starts; a refused port is refused before any
 *               instruction of the request runs.
 *
 * On x86 (32-bit) builds only, the seed article's method is available too:
 * IOCTL_IOPERM_IOPM_GRANT opens allowlisted ranges in the calling process's
 * I/O permission bitmap (Ke386SetIoAccessMap / Ke386IoSetAccessProcess, which
 * x64 kernels do not export), tracked per handle and revoked at IRP_MJ_CLEANUP;
 * map 1 is machine-wide, the union of every handle's grant (see iopm.c).
 */
#include "ioperm.h"

C_ASSERT(sizeof(IOPERM_OP) == 8);
C_ASSERT(sizeof(IOPERM_PORT_REPLY) == 8);
C_ASSERT(sizeof(IOPERM_BATCH_HEADER) == 16);
C_ASSERT(sizeof(IOPERM_VERSION_INFO) == 24);
C_ASSERT(sizeof(IOPERM_ALLOWLIST) == IOPERM_PORT_COUNT / 8);
C_ASSERT(sizeof(IOPERM_RANGE) == 8);
/* count <= IOPERM_MAX_BATCH keeps header + count * op far from ULONG overflow. */
C_ASSERT((ULONGLONG)IOPERM_MAX_BATCH * sizeof(IOPERM_OP) + sizeof(IOPERM_BATCH_HEADER) < 0x10000000ull);

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ioperm_unload;
static DRIVER_DISPATCH ioperm_create;
static DRIVER_DISPATCH ioperm_close;
static DRIVER_DISPATCH ioperm_cleanup;
static DRIVER_DISPATCH ioperm_device_control;

/* The one completion path: every dispatch routine returns through here. */
static NTSTATUS ioperm_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = NT_SUCCESS(status) ? information : 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

/* ---- port access -------------------------------------------------------- */

/* Slots a step takes: a WAIT or PULSE head is followed by its parameter slot. */
static ULONG ioperm_slots(UCHAR kind) {
  return kind == IOPERM_OP_WAIT || kind == IOPERM_OP_PULSE ? 2 : 1;
}

static BOOLEAN ioperm_fits(ULONG value, UCHAR width) {
  return width == 4 || (value >> (width * 8)) == 0;
}

/*
 * The checks of a step that need no allowlist, in the order of checkFields in
 * zig/src/core.zig: kind (and a parameter slot present), width, values, the
 * step cap. `next` is the slot after `op`, NULL at the end of the list; `*us`
 * receives the step's time for the call cap.
 */
static LONG ioperm_check_fields(const IOPERM_OP *op, const IOPERM_OP *next, ULONG *us) {
  *us = 0;
  switch (op->flags) {
  case IOPERM_OP_READ:
  case IOPERM_OP_WRITE:
  case IOPERM_OP_WAIT:
  case IOPERM_OP_PULSE:
    break;
  case IOPERM_OP_DELAY:
    if (op->port != 0 || op->width != 0) return IOPERM_RESULT_BAD_OP;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
    return IOPERM_RESULT_OK;
  default:
    return IOPERM_RESULT_BAD_OP;
  }
  if (ioperm_slots(op->flags) == 2 && !next) return IOPERM_RESULT_BAD_OP;
  if (op->width != 1 && op->width != 2 && op->width != 4) return IOPERM_RESULT_BAD_WIDTH;
  if (op->flags == IOPERM_OP_WRITE && !ioperm_fits(op->value, op->width)) return IOPERM_RESULT_RANGE;
  if (op->flags == IOPERM_OP_WAIT) {
    const IOPERM_WAIT_PARAM *p = (const IOPERM_WAIT_PARAM *)next;
    if (!ioperm_fits(p->mask, op->width) || !ioperm_fits(p->expect, op->width) || (p->expect & ~p->mask) != 0)
      return IOPERM_RESULT_RANGE;
    if (op->value > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = op->value;
  }
  if (op->flags == IOPERM_OP_PULSE) {
    const IOPERM_PULSE_PARAM *p = (const IOPERM_PULSE_PARAM *)next;
    if (!ioperm_fits(op->value, op->width) || !ioperm_fits(p->rest, op->width)) return IOPERM_RESULT_RANGE;
    if (p->hold_us > IOPERM_MAX_STEP_US) return IOPERM_RESULT_TOO_LONG;
    *us = p->hold_us;
  }
  return IOPERM_RESULT_OK;
}

/* Range, then the allowlist, for every port a step touches (a delay touches none). */
static LONG ioperm_check_port(const IOPERM_DEVICE *d, const IOPERM_OP *op) {
  if (op->flags == IOPERM_OP_DELAY) return IOPERM_RESULT_OK;
  if ((ULONG)op->port + op->width > IOPERM_PORT_COUNT) return IOPERM_RESULT_RANGE;
  if (!ioperm_allowed(d, op->port, op->width)) return IOPERM_RESULT_NOT_ALLOWED;
  return IOPERM_RESULT_OK;
}

static ULONG ioperm_in(USHORT port, UCHAR width) {
  PVOID p = (PVOID)(ULONG_PTR)port;
  return width == 1 ? READ_PORT_UCHAR(p) : width == 2 ? READ_PORT_USHORT(p) : READ_PORT_ULONG(p);
}

static void ioperm_out(USHORT port, UCHAR width, ULONG value) {
  PVOID p = (PVOID)(ULONG_PTR)port;
  if (width == 1)
    WRITE_PORT_UCHAR(p, (UCHAR)value);
  else if (width == 2)
    WRITE_PORT_USHORT(p, (USHORT)value);
  else
    WRITE_PORT_ULONG(p, value);
}

/*
 * The clock of timed steps: the performance counter, which Windows and Wine
 * both implement (Wine 8's KeStallExecutionProcessor is a stub that raises).
 * Polled at PASSIVE_LEVEL, where the thread stays preemptible; the caps bound
 * how long one request polls.
 */
/* `us` have passed since `start`. Compared by multiplying, not dividing: x86
 * has no 64-bit division without a runtime helper. The product stays below
 * 2^64 for half an hour of ticks at 10 GHz, far past any cap. */
static BOOLEAN ioperm_passed(LONGLONG start, ULONG us, LONGLONG frequency) {
  ULONGLONG elapsed = (ULONGLONG)(KeQueryPerformanceCounter(NULL).QuadPart - start);
  return elapsed * 1000000u >= (ULONGLONG)us * (ULONGLONG)frequency;
}

static void ioperm_spin(ULONG us) {
  LARGE_INTEGER frequency;
  LONGLONG start = KeQueryPerformanceCounter(&frequency).QuadPart;
  while (!ioperm_passed(start, us, frequency.QuadPart))
    YieldProcessor();
}

/* Runs the checked step at ops[i]; a timed-out wait stores the last value read in `*last`. */
static LONG ioperm_run_step(IOPERM_OP *ops, ULONG i, ULONG *last) {
  IOPERM_OP *op = &ops[i];
  switch (op->flags) {
  case IOPERM_OP_READ:
    op->value = ioperm_in(op->port, op->width);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_WRITE:
    ioperm_out(op->port, op->width, op->value);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_DELAY:
    ioperm_spin(op->value);
    return IOPERM_RESULT_OK;
  case IOPERM_OP_PULSE: {
    const IOPERM_PULSE_PARAM *p = (const IOPERM_PULSE_PARAM *)&ops[i + 1];
    ioperm_out(op->port, op->width, op->value);
    ioperm_spin(p->hold_us); /* timed from the end of the first write */
    ioperm_out(op->port, op->width, p->rest);
    return IOPERM_RESULT_OK;
  }
  default: { /* IOPERM_OP_WAIT: at least one read, then until the match or the timeout */
    const IOPERM_WAIT_PARAM *p = (const IOPERM_WAIT_PARAM *)&ops[i + 1];
    LARGE_INTEGER frequency;
    LONGLONG start = KeQueryPerformanceCounter(&frequency).QuadPart;
    for (;;) {
      ULONG v = ioperm_in(op->port, op->width);
      if ((v & p->mask) == p->expect) return IOPERM_RESULT_OK;
      if (ioperm_passed(start, op->value, frequency.QuadPart)) {
        *last = v;
        return IOPERM_RESULT_TIMEOUT;
      }
      YieldProcessor();
    }
  }
  }
}

/* ---- IOCTLs: each checks lengths first, then contents ------------------ */

NTSTATUS ioperm_exact(ULONG in, ULONG want_in, ULONG out, ULONG want_out) {
  return in == want_in && out == want_out ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
}

static NTSTATUS ioperm_version(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_VERSION_INFO));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_VERSION_INFO *v = buf;
  v->protocol = IOPERM_PROTOCOL_VERSION;
  v->driver_version = IOPERM_DRIVER_VERSION;
  v->capabilities = d->capabilities;
  v->max_batch = IOPERM_MAX_BATCH;
  v->op_size = sizeof(IOPERM_OP);
  v->pointer_bits = sizeof(PVOID) * 8;
  *info = sizeof *v;
  return STATUS_SUCCESS;
}

static NTSTATUS ioperm_allowlist(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_ALLOWLIST));
  if (!NT_SUCCESS(status)) return status;
  RtlCopyMemory(buf, &d->allowed, sizeof d->allowed);
  *info = sizeof d->allowed;
  return STATUS_SUCCESS;
}

/* READ and WRITE: one op in, one reply out; `flags` must say which of the two it is. */
static NTSTATUS ioperm_single(const IOPERM_DEVICE *d, UCHAR flags, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_OP), out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP op = *(const IOPERM_OP *)buf;
  IOPERM_PORT_REPLY *reply = buf;
  ULONG us, last = 0;
  LONG result = op.flags != flags ? IOPERM_RESULT_BAD_OP : ioperm_check_fields(&op, NULL, &us);
  if (result == IOPERM_RESULT_OK) result = ioperm_check_port(d, &op);
  if (result == IOPERM_RESULT_OK) ioperm_run_step(&op, 0, &last);
  reply->result = result;
  reply->value = result == IOPERM_RESULT_OK && !(flags & IOPERM_OP_WRITE) ? op.value : 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

/*
 * Every step is checked before the first one runs, caps included, so a refusal
 * means none ran; the list is walked step by step, so a parameter slot is never
 * read as an op. A wait that times out stops the list there: the steps before
 * it ran, `index` names it and `value` carries the last value it read.
 */
static NTSTATUS ioperm_batch(const IOPERM_DEVICE *d, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  IOPERM_BATCH_HEADER *h = buf;
  if (in < sizeof *h) return STATUS_INFO_LENGTH_MISMATCH;
  ULONG count = h->count;
  if (count == 0 || count > IOPERM_MAX_BATCH || h->value != 0) return STATUS_INVALID_PARAMETER;
  ULONG size = sizeof *h + count * sizeof(IOPERM_OP);
  NTSTATUS status = ioperm_exact(in, size, out, size);
  if (!NT_SUCCESS(status)) return status;
  IOPERM_OP *ops = (IOPERM_OP *)(h + 1);
  ULONG i, us, last = 0;
  ULONGLONG total = 0;
  LONG result = IOPERM_RESULT_OK;
  for (i = 0; i < count; i += ioperm_slots(ops[i].flags)) {
    result = ioperm_check_fields(&ops[i], i + 1 < count ? &ops[i + 1] : NULL, &us);
    if (result == IOPERM_RESULT_OK && (total += us) > IOPERM_MAX_CALL_US) result = IOPERM_RESULT_TOO_LONG;
    if (result == IOPERM_RESULT_OK) result = ioperm_check_port(d, &ops[i]);
    if (result != IOPERM_RESULT_OK) break;
  }
  if (result == IOPERM_RESULT_OK)
    for (i = 0; i < count; i += ioperm_slots(ops[i].flags))
      if ((result = ioperm_run_step(ops, i, &last)) != IOPERM_RESULT_OK) break;
  h->result = result;
  h->index = i;
  h->value = last;
  *info = size;
  return STATUS_SUCCESS;
}

/* ---- dispatch ----------------------------------------------------------- */

_Use_decl_annotations_ static NTSTATUS ioperm_device_control(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  IOPERM_DEVICE *d = device->DeviceExtension;
  ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out = sp->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buf = irp->AssociatedIrp.SystemBuffer;
  ULONG_PTR info = 0;
  NTSTATUS status;

  if ((in || out) && !buf) return ioperm_complete(irp, STATUS_INVALID_PARAMETER, 0);
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
  case IOCTL_IOPERM_VERSION:
    status = ioperm_version(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_ALLOWLIST:
    status = ioperm_allowlist(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_READ:
    status = ioperm_single(d, 0, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_WRITE:
    status = ioperm_single(d, IOPERM_OP_WRITE, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_BATCH:
    status = ioperm_batch(d, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_PCI_READ:
    status = ioperm_pci_read(d, buf, in, out, &info);
    break;
#if IOPERM_HAS_IOPM
  case IOCTL_IOPERM_IOPM_GRANT:
    status = ioperm_iopm_grant(d, sp->FileObject, buf, in, out, &info);
    break;
  case IOCTL_IOPERM_IOPM_REVOKE:
    status = ioperm_iopm_revoke(d, sp->FileObject, buf, in, out, &info);
    break;
#else
  case IOCTL_IOPERM_IOPM_GRANT:
  case IOCTL_IOPERM_IOPM_REVOKE:
    status = STATUS_NOT_SUPPORTED;
    break;
#endif
  default:
    status = STATUS_INVALID_DEVICE_REQUEST;
    break;
  }
  return ioperm_complete(irp, status, info);
}

/* Opens of the device itself only: there is no namespace below it. */
_Use_decl_annotations_ static NTSTATUS ioperm_create(PDEVICE_OBJECT device, PIRP irp) {
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
  (void)device;
  if (file && file->FileName.Length != 0) return ioperm_complete(irp, STATUS_OBJECT_NAME_NOT_FOUND, 0);
#if IOPERM_HAS_IOPM
  IOPERM_HANDLE *h = ioperm_alloc(sizeof *h);
  if (!h) return ioperm_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  RtlZeroMemory(h, sizeof *h);
  file->FsContext2 = h;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

/* The last user of the handle is gone: revoke what it holds in the IOPM, and
 * refuse any grant still in flight on it (see the lifetime in iopm.c). */
_Use_decl_annotations_ static NTSTATUS ioperm_cleanup(PDEVICE_OBJECT device, PIRP irp) {
#if IOPERM_HAS_IOPM
  IOPERM_HANDLE *h = IoGetCurrentIrpStackLocation(irp)->FileObject->FsContext2;
  if (h) ioperm_iopm_cleanup(device->DeviceExtension, h);
#else
  (void)device;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_ static NTSTATUS ioperm_close(PDEVICE_OBJECT device, PIRP irp) {
#if IOPERM_HAS_IOPM
  PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
  if (file->FsContext2) ioperm_iopm_close(device->DeviceExtension, file->FsContext2);
  file->FsContext2 = NULL;
#else
  (void)device;
#endif
  return ioperm_complete(irp, STATUS_SUCCESS, 0);
}

/* ---- load and unload ---------------------------------------------------- */

/*
 * What IoCreateDeviceSecure(..., IOPERM_DEVICE_SDDL, ...) does, without
 * wdmsec.lib (a static library that only the WDK ships): create the device
 * with FILE_DEVICE_SECURE_OPEN, then replace its DACL with a protected one
 * granting GENERIC_ALL to SYSTEM (SY) and to Administrators (BA) only.
 */
/* The two SIDs of IOPERM_DEVICE_SDDL, spelled out rather than read from
 * SeExports: S-1-5-18 (SY, LocalSystem) and S-1-5-32-544 (BA, Administrators). */
static const struct {
  UCHAR revision, count, authority[6];
  ULONG sub[1];
} ioperm_sid_system = {SID_REVISION, 1, {0, 0, 0, 0, 0, 5}, {18}};
static const struct {
  UCHAR revision, count, authority[6];
  ULONG sub[2];
} ioperm_sid_admins = {SID_REVISION, 2, {0, 0, 0, 0, 0, 5}, {32, 544}};

static NTSTATUS ioperm_create_device_secure(PDRIVER_OBJECT driver, PDEVICE_OBJECT *out) {
  UNICODE_STRING name = RTL_CONSTANT_STRING(IOPERM_NT_DEVICE_NAME);
  PSID system = (PSID)&ioperm_sid_system, admins = (PSID)&ioperm_sid_admins;
  ULONG acl_size =
      sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(ULONG)) + RtlLengthSid(system) + RtlLengthSid(admins);
  SECURITY_DESCRIPTOR sd;
  PDEVICE_OBJECT device = NULL;
  HANDLE handle = NULL;
  PACL acl;
  NTSTATUS status;

  acl = ioperm_alloc(acl_size);
  if (!acl) return STATUS_INSUFFICIENT_RESOURCES;
  status = RtlCreateAcl(acl, acl_size, ACL_REVISION);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, system);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, admins);
  if (NT_SUCCESS(status)) status = RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
  if (NT_SUCCESS(status)) status = RtlSetDaclSecurityDescriptor(&sd, TRUE, acl, FALSE);
  if (NT_SUCCESS(status)) {
    sd.Control |= SE_DACL_PROTECTED;
    status = IoCreateDevice(driver, sizeof(IOPERM_DEVICE), &name, IOPERM_DEVICE_TYPE, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &device);
  }
  if (NT_SUCCESS(status))
    status = ObOpenObjectByPointer(device, OBJ_KERNEL_HANDLE, NULL, WRITE_DAC, NULL, KernelMode, &handle);
  if (NT_SUCCESS(status)) {
    status = ZwSetSecurityObject(handle, DACL_SECURITY_INFORMATION, &sd);
    ZwClose(handle);
  }
  ioperm_free(acl);
  if (!NT_SUCCESS(status)) {
    DbgPrint("ioperm: cannot create a secured device (0x%08lx)\n", status);
    if (device) IoDeleteDevice(device);
    return status;
  }
  *out = device;
  return STATUS_SUCCESS;
}

_Use_decl_annotations_ static void ioperm_unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link = RTL_CONSTANT_STRING(IOPERM_DOS_DEVICE_NAME);
  IoDeleteSymbolicLink(&link);
  if (driver->DeviceObject) {
#if IOPERM_HAS_IOPM
    IOPERM_DEVICE *d = driver->DeviceObject->DeviceExtension;
    if (d->map) ioperm_free(d->map);
    if (d->check) ioperm_free(d->check);
#endif
    IoDeleteDevice(driver->DeviceObject);
  }
}

/* Never inlined into DriverEntry: its canary must be read after the guard is seeded. */
__attribute__((noinline)) static NTSTATUS ioperm_start(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING link = RTL_CONSTANT_STRING(IOPERM_DOS_DEVICE_NAME);
  UNICODE_STRING name = RTL_CONSTANT_STRING(IOPERM_NT_DEVICE_NAME);
  PDEVICE_OBJECT device;
  IOPERM_DEVICE *d;
  NTSTATUS status = ioperm_create_device_secure(driver, &device);
  if (!NT_SUCCESS(status)) return status;
  d = device->DeviceExtension;
  RtlZeroMemory(d, sizeof *d);
  d->capabilities = IOPERM_CAP_PORT_IO | IOPERM_CAP_PCI_READ | IOPERM_CAP_TIMED_STEPS;
  KeInitializeSpinLock(&d->pci_lock);
#if IOPERM_HAS_IOPM
  d->capabilities |= IOPERM_CAP_IOPM;
  ExInitializeFastMutex(&d->iopm_lock);
  InitializeListHead(&d->handles);
  d->map = ioperm_alloc(IOPM_SIZE);
  d->check = ioperm_alloc(IOPM_SIZE);
  if (!d->map || !d->check) status = STATUS_INSUFFICIENT_RESOURCES;
#endif
  if (NT_SUCCESS(status)) status = ioperm_load_allowlist(d, registry_path);
  if (NT_SUCCESS(status)) status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
#if IOPERM_HAS_IOPM
    if (d->map) ioperm_free(d->map);
    if (d->check) ioperm_free(d->check);
#endif
    IoDeleteDevice(device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = ioperm_create;
  driver->MajorFunction[IRP_MJ_CLEANUP] = ioperm_cleanup;
  driver->MajorFunction[IRP_MJ_CLOSE] = ioperm_close;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ioperm_device_control;
  driver->DriverUnload = ioperm_unload;
  device->Flags |= DO_BUFFERED_IO;
  device->Flags &= ~DO_DEVICE_INITIALIZING;
  return STATUS_SUCCESS;
}

/* Unprotected, so that seeding the guard cannot trip its own canary check;
 * everything else runs in ioperm_start, protected with the seeded guard. */
_Use_decl_annotations_ __attribute__((no_stack_protector)) NTSTATUS DriverEntry(PDRIVER_OBJECT driver,
                                                                                PUNICODE_STRING registry_path) {
  ioperm_seed_guard(driver);
  return ioperm_start(driver, registry_path);
}
