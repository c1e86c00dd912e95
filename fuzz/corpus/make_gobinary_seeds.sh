#!/usr/bin/env bash
# How fuzz/corpus/gobinary/tiny* were made (checked in; rerun only to change them): a static C
# program of a few KB with a main.main symbol and DWARF, plus the three sections that make the
# inspector call it Go: .go.buildinfo (Go 1.18+ inline-string format, build_info.h), a Go
# .note.go.buildid note and a .gopclntab. Real Go binaries are megabytes: too large to mutate fast.
set -euo pipefail
out=$(cd "$(dirname "$0")/gobinary" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
python3 - <<'PY'
import struct
def uvarint(n):
    out = b""
    while True:
        b, n = n & 0x7f, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])
ver = b"go1.26.8"
mod = (bytes(range(0x30, 0x40)) + b"path\texample.com/tiny\nmod\texample.com/tiny\t(devel)\t\n"
       b"build\t-gcflags=\"all=-N -l\"\nbuild\tGOARCH=amd64\n" + bytes(range(0xf0, 0x100)))
hdr = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
open("buildinfo.bin", "wb").write(hdr + uvarint(len(ver)) + ver + uvarint(len(mod)) + mod)
bid = b"abcd/efgh/ijkl/mnop"
open("note.bin", "wb").write(struct.pack("<III", 4, len(bid), 4) + b"Go\0\0" + bid + b"\0")
open("pcln.bin", "wb").write(b"\xf1\xff\xff\xff\0\0\x01\x08" + b"\0" * 8)
PY
cat >tiny.c <<'C'
struct Order { long id; const char* note; };
long main_main(struct Order* o, const char* tag, int qty) __asm__("main.main");
long main_main(struct Order* o, const char* tag, int qty) { return o->id + tag[0] + qty; }
void _start(void) { for (;;) {} }
C
gcc -g -Os -static -nostdlib -fno-asynchronous-unwind-tables -Wl,--build-id -o tiny0 tiny.c
objcopy --add-section .go.buildinfo=buildinfo.bin --add-section .note.go.buildid=note.bin \
  --set-section-flags .note.go.buildid=contents --add-section .gopclntab=pcln.bin tiny0 "$out/tiny"
strip --strip-debug -o "$out/tiny-nodwarf" "$out/tiny"
strip -o "$out/tiny-stripped" "$out/tiny"
head -c 64 "$out/tiny" >"$out/elf-header-only"
cp buildinfo.bin "$out/buildinfo-section"
