#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from a directory of captures.

  make_fuzz_corpus.py CAPTURE_DIR OUT_DIR

OUT_DIR/decoder/: single packets from the classic pcap files, prefixed by the link-type
index and wire-length byte that fuzz/fuzz_decoder.cpp expects.
OUT_DIR/pcap/: the first 2 KiB of every capture (pcap and pcapng).
"""
import os
import struct
import sys

# Same order as kLinktypes in fuzz/fuzz_decoder.cpp.
LINKTYPES = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 276, 105]
PACKETS_PER_FILE = 8


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return None, []  # pcapng: covered by the pcap corpus
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        if caplen > 262144 or off + 16 + caplen > len(data):
            break
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return linktype, out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(dst, "decoder"), exist_ok=True)
    os.makedirs(os.path.join(dst, "pcap"), exist_ok=True)
    n_dec = n_pcap = 0
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        with open(path, "rb") as f:
            head = f.read(2048)
        with open(os.path.join(dst, "pcap", name), "wb") as f:
            f.write(head)
        n_pcap += 1
        linktype, pkts = packets(path)
        if linktype not in LINKTYPES or not pkts:
            continue
        step = max(1, len(pkts) // PACKETS_PER_FILE)
        for i, pkt in enumerate(pkts[::step][:PACKETS_PER_FILE]):
            with open(os.path.join(dst, "decoder", f"{name}.{i}"), "wb") as f:
                f.write(bytes([LINKTYPES.index(linktype), 0]) + pkt)
            n_dec += 1
    print(f"{n_dec} decoder seeds, {n_pcap} capture seeds in {dst}")


if __name__ == "__main__":
    main()
