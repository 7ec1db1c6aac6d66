/*
 * What Memory Integrity (HVCI) and the compiler ask of the driver, in one
 * place: pool memory that can never be executable, and the stack-protector
 * guard that -fstack-protector-strong checks on return.
 *
 * The toolchain is zig cc targeting windows-gnu, which emits GCC-style
 * canaries (__stack_chk_guard / __stack_chk_fail), not MSVC's /GS
 * (__security_cookie, seeded by the loader through the load-config directory).
 * So the driver defines both symbols and seeds the guard itself, before any
 * protected function runs (ioperm_seed_guard, called first by DriverEntry).
 */
#include "ioperm.h"

/* Every allocation goes through here, so the pool type is decided once and the
 * PE check (scripts/windows/check_pe.py) finds exactly one call site whose
 * pool-type argument it can read. NonPagedPoolNx rather than ExAllocatePool2:
 * Wine 8's ntoskrnl (our test kernel) does not export ExAllocatePool2, and
 * NonPagedPoolNx exists from Windows 8 on, x86 and x64 alike. */
__attribute__((noinline)) PVOID ioperm_alloc(SIZE_T size) {
  return ExAllocatePoolWithTag(NonPagedPoolNx, size, IOPERM_TAG);
}

void ioperm_free(PVOID p) {
  ExFreePoolWithTag(p, IOPERM_TAG);
}

/* Until seeded, a fixed non-zero value (MSVC's default cookie), never 0. */
#if defined(_WIN64)
uintptr_t __stack_chk_guard = 0x00002B992DDFA232ull;
#else
uintptr_t __stack_chk_guard = 0xBB40E64Eu;
#endif

/* A smashed canary: stop the machine rather than return into an overwritten
 * frame, as /GS does (DRIVER_OVERRAN_STACK_BUFFER). */
__attribute__((noreturn)) void __stack_chk_fail(void) {
  KeBugCheckEx(0xF7 /* DRIVER_OVERRAN_STACK_BUFFER */, 0, 0, 0, 0);
  for (;;) {
  }
}

/* The time-stamp counter and where the kernel put our stack and image (ASLR);
 * the top 16 bits stay zero on x64 so a string overrun cannot forge it. Must
 * not itself be protected: it changes the guard it would check. */
__attribute__((no_stack_protector)) void ioperm_seed_guard(PVOID salt) {
  ULONG lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  uintptr_t seed = ((uintptr_t)hi << 16) ^ lo ^ (uintptr_t)&lo ^ (uintptr_t)salt ^ (uintptr_t)&__stack_chk_guard;
#if defined(_WIN64)
  seed &= 0x0000FFFFFFFFFFFFull;
#endif
  if (seed == 0) seed = 1;
  __stack_chk_guard = seed;
}
