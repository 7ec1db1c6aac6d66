/*
 * x86 (32-bit) only, the seed article's method: open allowlisted ranges in the
 * calling process's I/O permission bitmap (Ke386SetIoAccessMap /
 * Ke386IoSetAccessProcess), tracked per handle and revoked at cleanup. On x64
 * this file compiles to nothing.
 */
#include "ioperm.h"

#if IOPERM_HAS_IOPM
/* Rebuilds map 1 as the union of every handle's grant and reads it back. Lock held. */
static NTSTATUS ioperm_iopm_apply(IOPERM_DEVICE *d) {
  KIO_ACCESS_MAP *check = ioperm_alloc(IOPM_SIZE);
  NTSTATUS status = STATUS_SUCCESS;
  if (!check) return STATUS_INSUFFICIENT_RESOURCES;
  RtlFillMemory(d->map, IOPM_SIZE, 0xFF);
  for (PLIST_ENTRY e = d->handles.Flink; e != &d->handles; e = e->Flink) {
    IOPERM_HANDLE *h = CONTAINING_RECORD(e, IOPERM_HANDLE, link);
    for (ULONG i = 0; i < IOPM_SIZE; i++)
      (*d->map)[i] &= (UCHAR)~h->granted[i];
  }
  if (!Ke386SetIoAccessMap(1, d->map) || !Ke386QueryIoAccessMap(1, check) ||
      RtlCompareMemory(check, d->map, IOPM_SIZE) != IOPM_SIZE)
    status = STATUS_UNSUCCESSFUL;
  ioperm_free(check);
  return status;
}

static BOOLEAN ioperm_process_has_grant(IOPERM_DEVICE *d, PEPROCESS process) {
  for (PLIST_ENTRY e = d->handles.Flink; e != &d->handles; e = e->Flink)
    if (CONTAINING_RECORD(e, IOPERM_HANDLE, link)->process == process) return TRUE;
  return FALSE;
}

/* Gives back whatever this handle holds. Lock held. */
void ioperm_iopm_revoke_locked(IOPERM_DEVICE *d, IOPERM_HANDLE *h) {
  if (!h->process) return;
  RemoveEntryList(&h->link);
  RtlZeroMemory(h->granted, IOPM_SIZE);
  (void)ioperm_iopm_apply(d);
  if (!ioperm_process_has_grant(d, h->process)) Ke386IoSetAccessProcess(h->process, 0);
  ObDereferenceObject(h->process);
  h->process = NULL;
}

NTSTATUS ioperm_iopm_grant(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, sizeof(IOPERM_RANGE), out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  IOPERM_RANGE r = *(const IOPERM_RANGE *)buf;
  IOPERM_PORT_REPLY *reply = buf;
  LONG result = IOPERM_RESULT_OK;
  if (r.count == 0 || r.from >= IOPERM_PORT_COUNT || r.count > IOPERM_PORT_COUNT - r.from)
    result = IOPERM_RESULT_RANGE;
  else if (!ioperm_allowed(d, r.from, r.count))
    result = IOPERM_RESULT_NOT_ALLOWED;
  if (result == IOPERM_RESULT_OK) {
    IOPERM_HANDLE *h = file->FsContext2;
    PEPROCESS process = IoGetCurrentProcess();
    ExAcquireFastMutex(&d->iopm_lock);
    if (h->process && h->process != process) {
      status = STATUS_ACCESS_DENIED; /* an inherited handle cannot move another process's grant */
    } else {
      for (ULONG p = r.from; p < r.from + r.count; p++)
        h->granted[p >> 3] |= (UCHAR)(1u << (p & 7));
      if (!h->process) {
        ObReferenceObject(process);
        h->process = process;
        InsertTailList(&d->handles, &h->link);
      }
      status = ioperm_iopm_apply(d);
      if (NT_SUCCESS(status) && !Ke386IoSetAccessProcess(process, 1)) status = STATUS_UNSUCCESSFUL;
      if (!NT_SUCCESS(status)) ioperm_iopm_revoke_locked(d, h);
    }
    ExReleaseFastMutex(&d->iopm_lock);
    if (!NT_SUCCESS(status)) return status;
  }
  reply->result = result;
  reply->value = 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}

NTSTATUS ioperm_iopm_revoke(IOPERM_DEVICE *d, PFILE_OBJECT file, PVOID buf, ULONG in, ULONG out, ULONG_PTR *info) {
  NTSTATUS status = ioperm_exact(in, 0, out, sizeof(IOPERM_PORT_REPLY));
  if (!NT_SUCCESS(status)) return status;
  ExAcquireFastMutex(&d->iopm_lock);
  ioperm_iopm_revoke_locked(d, file->FsContext2);
  ExReleaseFastMutex(&d->iopm_lock);
  IOPERM_PORT_REPLY *reply = buf;
  reply->result = IOPERM_RESULT_OK;
  reply->value = 0;
  *info = sizeof *reply;
  return STATUS_SUCCESS;
}
#endif
