#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes one hostile layer tar per case into DIR and prints "NAME<TAB>RULE" for each.

RULE is a piece of text that the refusal of the layer must contain (fetch/unpack.c and
fetch/tarlayer.c word them); a tool importing NAME.tar must fail and print it. Every file is
deterministic (fixed mtimes, no user names), so the output of two runs is identical.

Usage: mkhostile.py DIR
"""
import gzip
import io
import os
import sys
import tarfile

MTIME = 1700000000


def header(name, typeflag=b"0", size=0, linkname=b"", mode=0o644, bad_checksum=False):
    """A raw ustar header block, for what tarfile refuses to write."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(linkname, str):
        linkname = linkname.encode()
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"%07o\0" % 0
    h[116:124] = b"%07o\0" % 0
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:265] = b"ustar\x0000"
    csum = sum(h) + (1 if bad_checksum else 0)
    h[148:156] = b"%06o\0 " % csum
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % 512)


def pax_record(key, value):
    body = f" {key}={value}\n".encode()
    n = len(body) + 1
    while len(str(n).encode() + body) != n:
        n += 1
    return str(n).encode() + body


def raw_tar(*blocks):
    return b"".join(blocks) + b"\0" * 1024


class Tar:
    """tarfile in memory, with defaults that keep the bytes stable."""

    def __init__(self, fmt=tarfile.PAX_FORMAT):
        self.buf = io.BytesIO()
        self.t = tarfile.open(fileobj=self.buf, mode="w", format=fmt)

    def add(self, name, kind=tarfile.REGTYPE, data=b"", link="", pax=None, mode=0o644):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mtime = MTIME
        ti.mode = mode
        ti.linkname = link
        if pax:
            ti.pax_headers = dict(pax)
        if kind == tarfile.REGTYPE:
            ti.size = len(data)
            self.t.addfile(ti, io.BytesIO(data))
        else:
            self.t.addfile(ti)
        return self

    def bytes(self):
        self.t.close()
        return self.buf.getvalue()


def valid_tar():
    return (Tar().add("d/", tarfile.DIRTYPE, mode=0o755)
            .add("d/file", data=bytes(range(256)) * 80).bytes())


def cases():
    R, D, S, L = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    esc = "path escapes the layer ('..' component)"
    yield "absolute", "absolute path", Tar().add("/etc/passwd", data=b"x").bytes()
    yield "dotdot", esc, Tar().add("../../etc/passwd", data=b"x").bytes()
    yield "dotdot-middle", esc, Tar().add("a/../../b", data=b"x").bytes()
    yield "symlink-parent", "is a symlink of this layer", (
        Tar().add("evil", S, link="/etc").add("evil/passwd", data=b"x").bytes())
    yield "symlink-after-child", "earlier entries of the layer are below it", (
        Tar().add("x/y", data=b"x").add("x", S, link="/etc").bytes())
    yield "file-parent", "is not a directory in this layer", (
        Tar().add("f", data=b"x").add("f/g", data=b"y").bytes())
    yield "whiteout-parent", "whiteout name used as a directory", (
        Tar().add("a/.wh.b/c", data=b"x").bytes())
    yield "hardlink-unseen", "not an earlier regular file of the layer", (
        Tar().add("hl", L, link="nothere").bytes())
    yield "hardlink-forward", "not an earlier regular file of the layer", (
        Tar().add("hl", L, link="later").add("later", data=b"x").bytes())
    yield "hardlink-self", "hard link to itself", Tar().add("self", L, link="self").bytes()
    yield "hardlink-dir", "hard link to a directory", (
        Tar().add("d", D, mode=0o755).add("hl", L, link="d").bytes())
    yield "hardlink-symlink", "hard link to a symlink", (
        Tar().add("s", S, link="target").add("hl", L, link="s").bytes())
    yield "hardlink-escape", esc, Tar().add("hl", L, link="../etc/passwd").bytes()
    # A PAX header makes libarchive honour a hard link's size (POSIX 2001 allows a body).
    yield "hardlink-with-data", "hard link entry carries data", raw_tar(
        header("f", size=1), pad(b"x"), header("x", b"x", len(pax_record("comment", "x"))),
        pad(pax_record("comment", "x")), header("hl", b"1", 4, linkname="f"), pad(b"evil"))
    yield "duplicate", "duplicate path", Tar().add("dup", data=b"a").add("dup", data=b"b").bytes()
    yield "duplicate-dir", "duplicate path", (
        Tar().add("d", D, mode=0o755).add("d", D, mode=0o700).bytes())
    yield "long-component", "path component longer than 255 bytes", (
        Tar().add("a" * 256, data=b"x").bytes())
    yield "long-path", "path of 4096 bytes or more", (
        Tar().add("/".join(["p" * 250] * 17), data=b"x").bytes())
    yield "huge-size", "exceeds the limit of", (
        Tar().add("huge", data=b"", pax={"size": str(2 ** 41 + 1)}).bytes())
    yield "unknown-type", "unknown entry type", raw_tar(header("weird", b"Z"))
    yield "whiteout-dot", "whiteout of '.', '..' or of an empty name", (
        Tar().add("a/.wh..", data=b"").bytes())
    yield "whiteout-dotdot", "whiteout of '.', '..' or of an empty name", (
        Tar().add("a/.wh...", data=b"").bytes())
    yield "whiteout-empty", "whiteout of '.', '..' or of an empty name", (
        Tar().add("a/.wh.", data=b"").bytes())
    yield "aufs-nested", "unknown whiteout kind", Tar().add("a/.wh..wh.foo", data=b"").bytes()
    yield "root-not-dir", "root is not a directory", Tar().add(".", data=b"x").bytes()
    yield "bad-checksum", "corrupt tar stream", (
        raw_tar(header("ok", size=0), header("bad", size=0, bad_checksum=True)))
    yield "truncated-data", "corrupt tar stream", valid_tar()[:2048 + 5000]
    yield "truncated-header", "corrupt tar stream", valid_tar()[:512 + 300]
    yield "trailing-garbage", "is not zeros", valid_tar() + b"garbage!" * 64
    gz = gzip.compress(valid_tar(), mtime=0)
    yield "truncated-gzip", "corrupt compressed stream", gz[:len(gz) // 2]
    yield "truncated-gzip-trailer", "corrupt compressed stream", gz[:-4]
    yield "not-a-tar", "not a tar stream", b"This is not a tar file at all.\n" * 40
    yield "empty", "empty layer stream", b""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, rule, data in cases():
        with open(os.path.join(out, name + ".tar"), "wb") as f:
            f.write(data)
        print(f"{name}\t{rule}")


if __name__ == "__main__":
    main()
