#!/usr/bin/env python3
"""Checks a built ioperm.sys with pefile, independently of the tools that made it.

    check_pe.py --arch x64|x86 --pdb ioperm.pdb [--signed] [--stamp OUT] ioperm.sys

Fails (exit 1, one line per problem) unless the image is a kernel driver the
loader will take: machine matches --arch, subsystem native, entry point is
DriverEntry (its address is read from the linker's PDB publics), imports come
from ntoskrnl.exe and HAL.dll only and match the .def lists exactly,
DYNAMICBASE and NXCOMPAT set, relocations present, no TLS, no writable+executable
section, and the optional header's CheckSum equals the one pefile recomputes.
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
DEFS = {
    "x64": {"ntoskrnl.exe": "ntoskrnl.x64.def"},
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
    for s in pe.sections:
        if s.Characteristics & 0x20000000 and s.Characteristics & 0x80000000:
            name = s.Name.rstrip(b"\0").decode()
            problems.append(f"section {name} is writable and executable")
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
               f"signature {security.Size} bytes")
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
