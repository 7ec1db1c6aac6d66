#!/usr/bin/env python3
"""Checks a built ioperm.sys with pefile, independently of the tools that made it.

    check_pe.py --arch x64|x86 --pdb ioperm.pdb [--signed] [--stamp OUT] ioperm.sys

Fails (exit 1, one line per problem) unless the image is a kernel driver the
loader will take: machine matches --arch, subsystem native, entry point is
DriverEntry (its address is read from the linker's PDB publics), imports come
from ntoskrnl.exe and HAL.dll only and match the .def lists exactly,
DYNAMICBASE and NXCOMPAT set, relocations present, no TLS, and the optional
header's CheckSum equals the one pefile recomputes.

Memory Integrity (HVCI) rules, each named "hvci:" in the summary:
  - NX_COMPAT and FORCE_INTEGRITY DllCharacteristics set, SectionAlignment 0x1000;
  - no section both writable and executable;
  - pool only from NX pools: no import of an allocator that can hand out
    executable memory, and every call to ExAllocatePoolWithTag (the one Wine 8
    and every Windows since 8 export; ExAllocatePool2 is NX by construction)
    passes a constant NX pool type, read from the instruction that loads it
    (x64: mov ecx, imm32; x86: the push of the first stdcall argument). A call
    site whose pool type cannot be read is a failure, not a pass;
  - a stack cookie: the toolchain (zig cc, windows-gnu) emits GCC-style canaries,
    __stack_chk_guard/__stack_chk_fail, not MSVC /GS (__security_cookie in the
    load-config directory, which only MSVC-style images carry). That is reported
    as the named exception "gs-style", and what is checked instead is that the
    guard and the failure routine exist in the PDB, that the guard lies in a
    writable, non-executable section, and that code calls the failure routine.
pefile is pinned here and installed into .cache/python on first use.
"""
import argparse
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# pefile is pinned in package.json (toolchain.pefile) and installed here by
# `sh scripts/bootstrap.sh --windows`, once, before any build runs checks in parallel.
sys.path.insert(0, os.path.join(ROOT, ".cache", "python"))
try:
    import pefile
except ImportError:
    sys.exit("check_pe.py: pefile is missing: run sh scripts/bootstrap.sh --windows")

MACHINES = {"x64": 0x8664, "x86": 0x14C}
ENTRY_NAMES = {"x64": b"DriverEntry", "x86": b"_DriverEntry@8"}
S_PUB32 = 0x110E
# ExAllocatePoolWithTag's first argument: the POOL_TYPE values that are never executable.
NX_POOL_TYPES = {0x200: "NonPagedPoolNx", 0x204: "NonPagedPoolNxCacheAligned", 0x220: "NonPagedPoolSessionNx"}
# Allocators whose memory can be executable or whose pool type this check does not read.
NON_NX_ALLOCATORS = {
    "ExAllocatePool", "ExAllocatePoolWithQuota", "ExAllocatePoolWithQuotaTag", "ExAllocatePoolWithTagPriority",
    "MmAllocateContiguousMemory", "MmAllocateContiguousMemorySpecifyCache", "MmAllocateNonCachedMemory",
    "MmMapIoSpace", "MmAllocatePagesForMdl", "MmMapLockedPages",
}
# The C names of the stack-protector symbols; x86 adds a leading underscore.
GUARD, GUARD_FAIL = "__stack_chk_guard", "__stack_chk_fail"
SCN_MEM_EXECUTE, SCN_MEM_WRITE = 0x20000000, 0x80000000
DEFS = {
    "x64": {"ntoskrnl.exe": "ntoskrnl.x64.def", "hal.dll": "hal.x64.def"},
    "x86": {"ntoskrnl.exe": "ntoskrnl.x86.def", "hal.dll": "hal.x86.def"},
}


def def_names(path):
    """Import names a .def file allows, decorations stripped as `dlltool -k` does."""
    names = set()
    in_exports = False
    for line in open(path):
        line = line.split(";")[0].strip()
        if not line:
            continue
        if line == "EXPORTS":
            in_exports = True
            continue
        if in_exports:
            name = line.split()[0].lstrip("@")
            names.add(re.sub(r"@\d+$", "", name))
    return names


def pdb_entry_rva(pdb, pe, name):
    """RVA of the S_PUB32 public `name` in the linker's PDB."""
    data = open(pdb, "rb").read()
    for m in re.finditer(re.escape(name + b"\0"), data):
        start = m.start() - 14
        if start < 0:
            continue
        _reclen, kind, _flags, offset, segment = struct.unpack_from("<HHIIH", data, start)
        if kind == S_PUB32 and 1 <= segment <= len(pe.sections):
            return pe.sections[segment - 1].VirtualAddress + offset
    return None


def import_slot(pe, name):
    """RVA of the IAT slot for `name`, or None."""
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        for i in entry.imports:
            if i.name and i.name.decode() == name:
                return i.address - pe.OPTIONAL_HEADER.ImageBase
    return None


def code_sections(pe):
    return [s for s in pe.sections if s.Characteristics & SCN_MEM_EXECUTE]


def indirect_branches_to(pe, arch, slot_rva):
    """(section, offset) of each `call/jmp [slot]` (FF 15 / FF 25) in code."""
    sites = []
    base = pe.OPTIONAL_HEADER.ImageBase
    for s in code_sections(pe):
        data = s.get_data()
        for m in re.finditer(rb"\xff[\x15\x25]", data):
            at = m.start()
            if at + 6 > len(data):
                continue
            disp = struct.unpack_from("<i" if arch == "x64" else "<I", data, at + 2)[0]
            target = s.VirtualAddress + at + 6 + disp if arch == "x64" else disp - base
            if target == slot_rva:
                sites.append((s, data, at))
    return sites


def pool_type_before(arch, data, at):
    """The constant pool type the call at `at` passes, or None if it cannot be read."""
    if arch == "x86":
        # stdcall pushes right to left: the push just before the call is the first argument.
        if at >= 5 and data[at - 5] == 0x68:
            return struct.unpack_from("<I", data, at - 4)[0]
        if at >= 2 and data[at - 2] == 0x6A:
            return data[at - 1]
        return None
    # x64: the last `mov ecx, imm32` (B9 imm32) in the few bytes before the call or tail jump.
    window = data[max(0, at - 32):at]
    for i in range(len(window) - 5, -1, -1):
        if window[i] == 0xB9 and (i == 0 or window[i - 1] not in (0x41, 0x49)):
            return struct.unpack_from("<I", window, i + 1)[0]
    return None


def call_sites(pe, rva, opcodes=rb"\xe8"):
    """(section, data, offset) of each `call rel32` (E8; or `opcodes`) in code that lands on `rva`."""
    sites = []
    for s in code_sections(pe):
        data = s.get_data()
        for m in re.finditer(rb"[" + opcodes + rb"]", data):
            at = m.start()
            if at + 5 <= len(data) and s.VirtualAddress + at + 5 + struct.unpack_from("<i", data, at + 1)[0] == rva:
                sites.append((s, data, at))
    return sites


def calls_to(pe, rva):
    return len(call_sites(pe, rva))


def pool_call_sites(pe, arch, slot_rva):
    """Every instruction that enters ExAllocatePoolWithTag: `call [slot]`, a tail
    `jmp [slot]`, or a `call` to an import thunk (a `jmp [slot]` that code calls)."""
    sites = []
    for s, data, at in indirect_branches_to(pe, arch, slot_rva):
        if data[at + 1] != 0x25:
            sites.append((s, data, at))
            continue
        callers = call_sites(pe, s.VirtualAddress + at, rb"\xe8\xe9")
        # A thunk stands alone: after padding (int3/nop) or next to another thunk, never after code.
        in_thunk_table = (at == 0 or data[at - 1] in (0xCC, 0x90) or data[at + 6:at + 8] == b"\xff\x25"
                          or (at >= 6 and data[at - 6:at - 4] == b"\xff\x25"))
        if callers:
            sites += callers
        elif not in_thunk_table:
            sites.append((s, data, at))  # a tail jump: the pool type was loaded just before it
        # else: a linker import thunk that no code branches to
    return sites


def pdb_public_rva(pdb, pe, name):
    """RVA of any S_PUB32 `name` (function or data) in the linker's PDB."""
    return pdb_entry_rva(pdb, pe, name.encode())


def hvci(pe, arch, pdb, imported):
    """Memory Integrity rules: (problems, notes for the summary)."""
    problems, notes = [], []
    oh = pe.OPTIONAL_HEADER
    dc = oh.DllCharacteristics
    for flag in ("IMAGE_DLLCHARACTERISTICS_NX_COMPAT", "IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY"):
        if not dc & pefile.DLL_CHARACTERISTICS[flag]:
            problems.append(f"hvci: {flag} not set (DllCharacteristics 0x{dc:04x})")
    if oh.SectionAlignment != 0x1000:
        problems.append(f"hvci: SectionAlignment 0x{oh.SectionAlignment:x}, want 0x1000")
    for s in pe.sections:
        if s.Characteristics & SCN_MEM_WRITE and s.Characteristics & SCN_MEM_EXECUTE:
            name = s.Name.rstrip(b"\0").decode()
            problems.append(f"hvci: section {name} is writable and executable")
    names = set().union(*imported.values()) if imported else set()
    for bad in sorted(names & NON_NX_ALLOCATORS):
        problems.append(f"hvci: imports {bad}, which can allocate executable memory")
    pools = []
    slot = import_slot(pe, "ExAllocatePoolWithTag")
    if slot is not None:
        sites = pool_call_sites(pe, arch, slot)
        if not sites:
            problems.append("hvci: ExAllocatePoolWithTag imported but no call site found to read its pool type")
        for s, data, at in sites:
            t = pool_type_before(arch, data, at)
            where = f"0x{s.VirtualAddress + at:x}"
            if t is None:
                problems.append(f"hvci: ExAllocatePoolWithTag at {where}: pool type not a readable constant")
            elif t not in NX_POOL_TYPES:
                problems.append(f"hvci: ExAllocatePoolWithTag at {where}: pool type {t} is not an NX pool")
            else:
                pools.append(NX_POOL_TYPES[t])
    notes.append(f"pool {'/'.join(sorted(set(pools))) or 'none'} at {len(pools)} call site(s)")
    prefix = "_" if arch == "x86" else ""
    if not pdb:
        problems.append("hvci: stack cookie not checked: --pdb is needed to find the guard")
    else:
        guard = pdb_public_rva(pdb, pe, prefix + GUARD)
        fail = pdb_public_rva(pdb, pe, prefix + GUARD_FAIL)
        if guard is None or fail is None:
            problems.append(f"hvci: no stack cookie ({GUARD}/{GUARD_FAIL} not in the PDB)")
        else:
            sec = pe.get_section_by_rva(guard)
            if not sec or not sec.Characteristics & SCN_MEM_WRITE or sec.Characteristics & SCN_MEM_EXECUTE:
                problems.append(f"hvci: {GUARD} is not in a writable, non-executable section")
            checks = calls_to(pe, fail)
            if checks == 0:
                problems.append(f"hvci: nothing calls {GUARD_FAIL}: no function is protected")
            notes.append(f"stack cookie {GUARD}, {checks} protected return(s), exception gs-style "
                         "(GCC-style canary from zig cc windows-gnu; MSVC /GS __security_cookie unavailable)")
    return problems, notes


def check(path, arch, pdb, signed):
    problems = []
    pe = pefile.PE(path)
    fh, oh = pe.FILE_HEADER, pe.OPTIONAL_HEADER
    if fh.Machine != MACHINES[arch]:
        problems.append(f"machine 0x{fh.Machine:x}, want 0x{MACHINES[arch]:x} ({arch})")
    if oh.Subsystem != pefile.SUBSYSTEM_TYPE["IMAGE_SUBSYSTEM_NATIVE"]:
        problems.append(f"subsystem {oh.Subsystem}, want 1 (native)")
    if pdb:
        rva = pdb_entry_rva(pdb, pe, ENTRY_NAMES[arch])
        if rva is None:
            problems.append(f"{ENTRY_NAMES[arch].decode()} not found in {pdb}")
        elif rva != oh.AddressOfEntryPoint:
            problems.append(f"entry point 0x{oh.AddressOfEntryPoint:x} is not DriverEntry (0x{rva:x})")
    dc = oh.DllCharacteristics
    for flag in ("IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE", "IMAGE_DLLCHARACTERISTICS_NX_COMPAT"):
        if not dc & pefile.DLL_CHARACTERISTICS[flag]:
            problems.append(f"{flag} not set (DllCharacteristics 0x{dc:04x})")
    if fh.Characteristics & pefile.IMAGE_CHARACTERISTICS["IMAGE_FILE_RELOCS_STRIPPED"] or not hasattr(pe, "DIRECTORY_ENTRY_BASERELOC"):
        problems.append("no base relocations: the kernel cannot relocate the image")
    if hasattr(pe, "DIRECTORY_ENTRY_TLS"):
        problems.append("TLS directory present: drivers cannot have TLS")
    allowed = {dll: def_names(os.path.join(ROOT, "windows-driver", "sys", f)) for dll, f in DEFS[arch].items()}
    imported = {}
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        dll = entry.dll.decode().lower()
        names = {i.name.decode() if i.name else f"#{i.ordinal}" for i in entry.imports}
        imported[dll] = names
        if dll not in allowed:
            problems.append(f"imports from {dll}: only {', '.join(sorted(allowed))} are allowed")
        elif names - allowed[dll]:
            problems.append(f"{dll}: imports not in the .def: {sorted(names - allowed[dll])}")
        elif allowed[dll] - names:
            problems.append(f"{dll}: .def lists unused names: {sorted(allowed[dll] - names)}")
    hvci_problems, hvci_notes = hvci(pe, arch, pdb, imported)
    problems += hvci_problems
    if hasattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT"):
        problems.append("delay imports present")
    want = pe.generate_checksum()
    if oh.CheckSum != want:
        problems.append(f"checksum 0x{oh.CheckSum:08x}, recomputed 0x{want:08x}")
    security = oh.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]]
    if signed and security.Size == 0:
        problems.append("not signed (no certificate table)")
    summary = (f"{os.path.basename(path)} {arch}: subsystem native, entry DriverEntry @0x{oh.AddressOfEntryPoint:x}, "
               f"DllCharacteristics 0x{dc:04x}, checksum 0x{oh.CheckSum:08x}, "
               f"imports {{{'; '.join(f'{d}: {len(n)}' for d, n in sorted(imported.items()))}}}, "
               f"signature {security.Size} bytes; hvci: NX_COMPAT+FORCE_INTEGRITY, "
               f"SectionAlignment 0x{oh.SectionAlignment:x}, no W+X section, {'; '.join(hvci_notes)}")
    return problems, summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=sorted(MACHINES), required=True)
    ap.add_argument("--pdb")
    ap.add_argument("--signed", action="store_true")
    ap.add_argument("--stamp", help="write the summary here when every check passes")
    ap.add_argument("image")
    a = ap.parse_args()
    problems, summary = check(a.image, a.arch, a.pdb, a.signed)
    for p in problems:
        print(f"check_pe: {a.image}: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    if a.stamp:
        with open(a.stamp, "w") as f:
            f.write(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
