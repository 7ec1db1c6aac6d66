/*
 * What the two fuzzers of iopermfuzz share: iopermfuzz_ioctl.c (the IOCTL
 * fuzzer), iopermfuzz_registry.c (AllowedPorts values and restarts), and
 * iopermfuzz.c (the device handle, the driver's allowlist, main).
 */
#ifndef IOPERMFUZZ_H
#define IOPERMFUZZ_H

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ioperm_ioctl.h"
#include "ioperm_ioctl_names.h"

/* The driver's ALLOWLIST reply, as the last fuzzer to ask it read it. */
extern IOPERM_ALLOWLIST allowed;
int is_allowed(uint32_t p);
HANDLE open_device(DWORD access);

int run_ioctls(uint64_t seed, unsigned long n, const DWORD *avoid, int n_avoid, int steering);
int run_registry(const char *path);

#endif
