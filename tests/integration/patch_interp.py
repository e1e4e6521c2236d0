#!/usr/bin/env python3
"""patch_interp.py SRC DST: copies the dynamic ELF64 executable SRC to DST with
its PT_INTERP path replaced by a non-existent path of the same length (so no
other offsets change), and prints the new interpreter path on stdout."""
import struct
import sys

PT_INTERP = 3


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: patch_interp.py SRC DST", file=sys.stderr)
        return 2
    data = bytearray(open(sys.argv[1], "rb").read())
    if data[:4] != b"\x7fELF" or data[4] != 2:
        print(f"{sys.argv[1]}: not an ELF64 file", file=sys.stderr)
        return 1
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        p_type, = struct.unpack_from("<I", data, off)
        if p_type != PT_INTERP:
            continue
        p_offset, = struct.unpack_from("<Q", data, off + 8)
        p_filesz, = struct.unpack_from("<Q", data, off + 32)
        old = bytes(data[p_offset:p_offset + p_filesz]).rstrip(b"\0")
        base = b"/nonexistent-spanvm/ld"
        if len(old) < len(base) + 3:
            print(f"interpreter path {old!r} too short to patch", file=sys.stderr)
            return 1
        new = base + b"x" * (len(old) - len(base) - 3) + b".so"
        assert len(new) == len(old)
        data[p_offset:p_offset + len(new)] = new
        open(sys.argv[2], "wb").write(data)
        print(new.decode())
        return 0
    print(f"{sys.argv[1]}: no PT_INTERP segment", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
