#!/usr/bin/env python3
"""Write the seeds of fuzz-vhd-maint (tests/fuzz-corpus-vhd-maint/).

Small dynamic and differencing VHDs (64 KiB virtual, 4 KiB blocks) laid
out to reach the paths of vhd compact and vhd expand: empty blocks
between data blocks (blocks move down, the file shrinks), blocks right
after the BAT (expand moves them), the header after the BAT (expand
moves the BAT), space no entry points to, a differencing block with an
empty bitmap.  Deterministic: rerunning it writes the same files.
Usage: tests/make-maint-seeds.py [DIR]
"""
import os
import struct
import sys

SIZE, BS = 64 * 1024, 4096
N = SIZE // BS


def csum(b, at):
    b[at:at + 4] = b"\0" * 4
    b[at:at + 4] = struct.pack(">I", ~sum(b) & 0xFFFFFFFF)


def footer(disk_type, header_at, uid):
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">IIQI4sII", f, 8, 2, 0x10000, header_at, 0x30000000,
                     b"win ", 0xA0000, 0x5769326B)
    struct.pack_into(">QQHBBI", f, 40, SIZE, SIZE, 4, 4, 8, disk_type)
    f[68:84] = bytes([uid]) * 16
    csum(f, 64)
    return f


def header(bat_at, parent=None):
    h = bytearray(1024)
    h[0:8] = b"cxsparse"
    struct.pack_into(">QQIII", h, 8, 2**64 - 1, bat_at, 0x10000, N, BS)
    if parent:
        h[40:56] = bytes([parent]) * 16
        name = "parent.vhd".encode("utf-16-be")
        h[64:64 + len(name)] = name
    csum(h, 36)
    return h


def data(blk, zero):
    return bytes(BS) if zero else bytes((blk * 7 + i) & 0xFF or 1
                                        for i in range(BS))


def build(path, layout, disk_type=3, parent=None, empty_bitmap=()):
    """LAYOUT: ("hdr"|"bat"|("blk", n, zero)|("gap", bytes)) in file
    order after the footer copy at 0."""
    parts, bat, at = [], [0xFFFFFFFF] * 128, 512
    hdr_at = bat_at = 0
    for item in layout:
        if item == "hdr":
            hdr_at = at
            parts.append(None)
            at += 1024
        elif item == "bat":
            bat_at = at
            parts.append(None)
            at += 512
        elif item[0] == "gap":
            parts.append(bytes(item[1]))
            at += item[1]
        else:
            _, blk, zero = item
            bitmap = bytearray(512)
            if blk not in empty_bitmap:
                bitmap[0] = 0xFF
            bat[blk] = at // 512
            parts.append(bytes(bitmap) + data(blk, zero))
            at += 512 + BS
    f = footer(disk_type, hdr_at, 0x44)
    out = bytearray(f)
    for item, part in zip(layout, parts):
        if item == "hdr":
            out += header(bat_at, parent)
        elif item == "bat":
            out += struct.pack(">128I", *bat)
        else:
            out += part
    out += f
    with open(path, "wb") as fh:
        fh.write(out)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "fuzz-corpus-vhd-maint")
    os.makedirs(d, exist_ok=True)
    blk = lambda n, zero=False: ("blk", n, zero)
    build(os.path.join(d, "zero-blocks.vhd"),
          ["hdr", "bat", blk(0), blk(1, True), blk(2), blk(5, True),
           blk(3), blk(15)])
    build(os.path.join(d, "gaps.vhd"),
          ["hdr", "bat", ("gap", 8192), blk(4), ("gap", 4608), blk(9),
           blk(10, True), ("gap", 1024), blk(11)])
    build(os.path.join(d, "header-after-bat.vhd"),
          ["bat", "hdr", blk(0), blk(7, True), blk(12)])
    build(os.path.join(d, "diff-empty-bitmap.vhd"),
          ["hdr", "bat", blk(0), blk(1, True), blk(2)], disk_type=4,
          parent=0x55, empty_bitmap=(0, 2))


main()
