/*
 * A fake 32-bit kernel for windows-driver/sys/iopm.c, and the steps that
 * test/windows/iopm.test.ts checks: I/O permission map 1 as the CPU would see
 * it, which map each process points at, the references the driver holds on
 * each process, and failures injected into Ke386SetIoAccessMap and
 * Ke386QueryIoAccessMap. Prints one JSON line per step.
 *   iopm-test          (no arguments)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioperm.h"

struct EPROCESS {
  int id;
  ULONG map; /* what Ke386IoSetAccessProcess last set: 0 none, 1 map 1 */
  int refs;  /* ObReferenceObject minus ObDereferenceObject */
};
static struct EPROCESS processes[2] = {{1, 0, 0}, {2, 0, 0}};
static PEPROCESS current = &processes[0];
static UCHAR map1[IOPM_SIZE];    /* map 1 as the CPU sees it: 0 = port open */
static int fail_set, fail_query; /* the next N calls fail */
static int mutex_errors;

BOOLEAN NTAPI Ke386SetIoAccessMap(ULONG n, KIO_ACCESS_MAP *m) {
  if (n != 1) return FALSE;
  if (fail_set > 0) return fail_set--, FALSE;
  memcpy(map1, m, IOPM_SIZE);
  return TRUE;
}
BOOLEAN NTAPI Ke386QueryIoAccessMap(ULONG n, KIO_ACCESS_MAP *m) {
  if (n != 1) return FALSE;
  if (fail_query > 0) return fail_query--, FALSE;
  memcpy(m, map1, IOPM_SIZE);
  return TRUE;
}
BOOLEAN NTAPI Ke386IoSetAccessProcess(PEPROCESS p, ULONG n) {
  if (n > 1) return FALSE;
  p->map = n;
  return TRUE;
}
void ExAcquireFastMutex(FAST_MUTEX *m) {
  mutex_errors += m->held++ != 0;
}
void ExReleaseFastMutex(FAST_MUTEX *m) {
  mutex_errors += --m->held != 0;
}
PEPROCESS IoGetCurrentProcess(void) {
  return current;
}
void ObReferenceObject(PVOID o) {
  ((PEPROCESS)o)->refs++;
}
void ObDereferenceObject(PVOID o) {
  ((PEPROCESS)o)->refs--;
}
ULONG DbgPrint(const char *format, ...) {
  (void)format;
  return 0;
}
SIZE_T RtlCompareMemory(const void *a, const void *b, SIZE_T n) {
  SIZE_T i = 0;
  while (i < n && ((const UCHAR *)a)[i] == ((const UCHAR *)b)[i])
    i++;
  return i;
}

/* What the rest of the driver gives iopm.c: every port allowed, exact lengths, the pool. */
BOOLEAN ioperm_allowed(const IOPERM_DEVICE *d, ULONG port, ULONG count) {
  (void)d, (void)port, (void)count;
  return TRUE;
}
NTSTATUS ioperm_exact(ULONG in, ULONG want_in, ULONG out, ULONG want_out) {
  return in == want_in && out == want_out ? STATUS_SUCCESS : STATUS_INFO_LENGTH_MISMATCH;
}
PVOID ioperm_alloc(SIZE_T size) {
  return calloc(1, size);
}
void ioperm_free(PVOID p) {
  free(p);
}

static IOPERM_DEVICE dev;

static PFILE_OBJECT open_handle(void) { /* IRP_MJ_CREATE */
  PFILE_OBJECT f = calloc(1, sizeof *f);
  f->FsContext2 = ioperm_alloc(sizeof(IOPERM_HANDLE));
  return f;
}

static int linked(void) {
  int n = 0;
  for (PLIST_ENTRY e = dev.handles.Flink; e != &dev.handles; e = e->Flink)
    n++;
  return n;
}

/* Prints the state after a step: the open ports of map 1 as ranges. */
static void report(const char *step, NTSTATUS status) {
  printf("{\"step\":\"%s\",\"status\":\"0x%08lx\",\"open\":\"", step, (unsigned long)status);
  const char *sep = "";
  for (ULONG p = 0; p < 0x10000; p++) {
    if (map1[p >> 3] & (1u << (p & 7))) continue;
    ULONG end = p;
    while (end + 1 < 0x10000 && !(map1[(end + 1) >> 3] & (1u << ((end + 1) & 7))))
      end++;
    printf("%s0x%lx-0x%lx", sep, p, end);
    sep = " ";
    p = end;
  }
  printf("\",\"maps\":[%lu,%lu],\"refs\":[%d,%d],\"linked\":%d,\"mutex_errors\":%d}\n", processes[0].map,
         processes[1].map, processes[0].refs, processes[1].refs, linked(), mutex_errors);
}

static NTSTATUS grant(PFILE_OBJECT f, ULONG from, ULONG count) {
  union {
    IOPERM_RANGE range;
    IOPERM_PORT_REPLY reply;
  } buf = {.range = {from, count}};
  ULONG_PTR info = 0;
  NTSTATUS s = ioperm_iopm_grant(&dev, f, &buf, sizeof(IOPERM_RANGE), sizeof(IOPERM_PORT_REPLY), &info);
  return NT_SUCCESS(s) && buf.reply.result != IOPERM_RESULT_OK ? (NTSTATUS)buf.reply.result : s;
}

static NTSTATUS revoke(PFILE_OBJECT f) {
  IOPERM_PORT_REPLY reply;
  ULONG_PTR info = 0;
  return ioperm_iopm_revoke(&dev, f, &reply, 0, sizeof reply, &info);
}

int main(void) {
  InitializeListHead(&dev.handles);
  dev.map = ioperm_alloc(IOPM_SIZE);
  dev.check = ioperm_alloc(IOPM_SIZE);
  memset(map1, 0xFF, sizeof map1);
  report("start", STATUS_SUCCESS);

  PFILE_OBJECT a = open_handle(), b = open_handle();
  report("A grants 0x378-0x37f", grant(a, 0x378, 8));
  current = &processes[1];
  report("B (process 2) grants 0x3f8-0x3ff", grant(b, 0x3f8, 8));
  report("process 2 grants on A (inherited handle)", grant(a, 0x80, 1));
  current = &processes[0];
  report("A revokes", revoke(a));
  report("A grants 0x378-0x37f again", grant(a, 0x378, 8));

  /* Cleanup while a grant is in flight: the grant takes the lock after cleanup. */
  ioperm_iopm_cleanup(&dev, a->FsContext2);
  report("A cleanup", STATUS_SUCCESS);
  report("A grants after cleanup", grant(a, 0x378, 8));
  ioperm_iopm_close(&dev, a->FsContext2);
  a->FsContext2 = NULL;
  report("A close", STATUS_SUCCESS);
  report("A grants after close", grant(a, 0x378, 8));

  /* Close without cleanup (a handle still linked when the last reference goes). */
  PFILE_OBJECT c = open_handle();
  report("C grants 0x278-0x27f", grant(c, 0x278, 8));
  ioperm_iopm_close(&dev, c->FsContext2);
  c->FsContext2 = NULL;
  report("C close with the grant still linked", STATUS_SUCCESS);

  /* Failures: the read-back fails on a grant; the map cannot be set on a revoke. */
  PFILE_OBJECT d = open_handle();
  current = &processes[0];
  fail_query = 1;
  report("D grants, the read-back fails", grant(d, 0x2e8, 8));
  report("D grants 0x2e8-0x2ef", grant(d, 0x2e8, 8));
  fail_set = 1;
  report("D revokes, map 1 cannot be set once", revoke(d));
  current = &processes[1];
  report("B grants 0x3e8-0x3ef", grant(b, 0x3e8, 8));
  current = &processes[0];
  report("D grants 0x2e8-0x2ef again", grant(d, 0x2e8, 8));
  fail_set = 2;
  report("D revokes, map 1 cannot be set at all", revoke(d));
  fail_set = 0;
  ioperm_iopm_cleanup(&dev, b->FsContext2);
  ioperm_iopm_close(&dev, b->FsContext2);
  ioperm_iopm_cleanup(&dev, d->FsContext2);
  ioperm_iopm_close(&dev, d->FsContext2);
  report("B and D closed", STATUS_SUCCESS);
  return 0;
}
