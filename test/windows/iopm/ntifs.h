/*
 * A stand-in for the DDK's <ntifs.h>, for test/windows/iopm.test.ts only: just
 * the types and kernel calls windows-driver/sys/iopm.c uses, so that the x86
 * IOPM lifetime logic can be compiled for 32-bit Linux and run against the fake
 * kernel in kernel.c (no 32-bit Windows exists here). The list functions are
 * the DDK's inline definitions, spelled the same way.
 */
#ifndef IOPERM_TEST_NTIFS_H
#define IOPERM_TEST_NTIFS_H

#include <stddef.h>
#include <stdint.h>

#define NTAPI
#define NTKERNELAPI
typedef unsigned char UCHAR;
typedef unsigned char BOOLEAN;
typedef unsigned long ULONG;
typedef long LONG;
typedef long NTSTATUS;
typedef uintptr_t ULONG_PTR;
typedef size_t SIZE_T;
typedef void *PVOID;
typedef ULONG_PTR KSPIN_LOCK;
typedef struct UNICODE_STRING *PUNICODE_STRING;
typedef struct FAST_MUTEX {
  int held;
} FAST_MUTEX;
typedef struct EPROCESS *PEPROCESS;
typedef struct FILE_OBJECT {
  PVOID FsContext2;
} FILE_OBJECT, *PFILE_OBJECT;
#define TRUE  1
#define FALSE 0

#define NT_SUCCESS(s)               ((NTSTATUS)(s) >= 0)
#define STATUS_SUCCESS              ((NTSTATUS)0x00000000L)
#define STATUS_UNSUCCESSFUL         ((NTSTATUS)0xC0000001L)
#define STATUS_ACCESS_DENIED        ((NTSTATUS)0xC0000022L)
#define STATUS_INFO_LENGTH_MISMATCH ((NTSTATUS)0xC0000004L)
#define STATUS_INVALID_DEVICE_STATE ((NTSTATUS)0xC0000184L)
#define STATUS_FILE_CLOSED          ((NTSTATUS)0xC0000128L)

typedef struct LIST_ENTRY {
  struct LIST_ENTRY *Flink, *Blink;
} LIST_ENTRY, *PLIST_ENTRY;
#define CONTAINING_RECORD(a, T, f) ((T *)((char *)(a)-offsetof(T, f)))
static inline void InitializeListHead(PLIST_ENTRY h) {
  h->Flink = h->Blink = h;
}
static inline BOOLEAN IsListEmpty(const LIST_ENTRY *h) {
  return h->Flink == h;
}
static inline BOOLEAN RemoveEntryList(PLIST_ENTRY e) {
  PLIST_ENTRY f = e->Flink, b = e->Blink;
  b->Flink = f;
  f->Blink = b;
  return f == b;
}
static inline void InsertTailList(PLIST_ENTRY h, PLIST_ENTRY e) {
  PLIST_ENTRY b = h->Blink;
  e->Flink = h;
  e->Blink = b;
  b->Flink = e;
  h->Blink = e;
}

void *memset(void *, int, size_t);
void *memcpy(void *, const void *, size_t);
#define RtlFillMemory(d, n, v) memset((d), (v), (n))
#define RtlZeroMemory(d, n)    memset((d), 0, (n))
SIZE_T RtlCompareMemory(const void *a, const void *b, SIZE_T n);

/* The fake kernel (kernel.c) records and checks each of these. */
void ExAcquireFastMutex(FAST_MUTEX *m);
void ExReleaseFastMutex(FAST_MUTEX *m);
PEPROCESS IoGetCurrentProcess(void);
void ObReferenceObject(PVOID o);
void ObDereferenceObject(PVOID o);
ULONG DbgPrint(const char *format, ...);

#endif
