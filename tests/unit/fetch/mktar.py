#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the layer tars the fetch unit tests unpack (deterministic bytes).

Usage: mktar.py RECIPE FORMAT OUT
  RECIPE  full | whiteouts | sparse | big | whiteout-body
  FORMAT  pax | gnu | ustar (full, whiteouts, big); gnu | 0.0 | 0.1 | 1.0 (sparse, GNU tar)
"""
import io
import os
import random
import subprocess
import sys
import tarfile
import tempfile

MTIME = 1700000000
FORMATS = {"pax": tarfile.PAX_FORMAT, "gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT}
# A file capability (VFS_CAP_REVISION_2, cap_net_raw), as setcap writes it: binary, with NULs.
CAPABILITY = bytes([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])


def content(n, seed):
    """n pseudo-random bytes, the same on every run."""
    return random.Random(seed).randbytes(n)


class Tar:
    def __init__(self, out, fmt):
        self.fmt = fmt
        self.t = tarfile.open(out, "w", format=FORMATS[fmt])

    def add(self, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, uid=0, gid=0,
            dev=(0, 0), pax=None, mtime=MTIME):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime, ti.linkname = kind, mode, uid, gid, mtime, link
        ti.devmajor, ti.devminor = dev
        if pax:
            ti.pax_headers = pax
        if kind == tarfile.REGTYPE:
            ti.size = len(data)
            self.t.addfile(ti, io.BytesIO(data))
        else:
            self.t.addfile(ti)

    def close(self):
        self.t.close()


def full(out, fmt):
    t = Tar(out, fmt)
    R, D, S, L = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
    t.add("./", D, mode=0o755)
    t.add("bin/", D, mode=0o755)
    t.add("bin/sh", data=content(1048577, 1), mode=0o755)
    t.add("bin/su", data=content(513, 2), mode=0o4755)
    t.add("etc/", D, mode=0o755, uid=1000, gid=1001)
    for n in (0, 1, 511, 512, 513):
        t.add("etc/f%d" % n, data=content(n, n + 10), mode=0o640)
    t.add("etc/hard", L, link="etc/f513")
    t.add("etc/link", S, link="../bin/sh")
    t.add("dev/", D, mode=0o755)
    t.add("dev/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    t.add("dev/sda", tarfile.BLKTYPE, mode=0o660, dev=(8, 0))
    t.add("dev/fifo", tarfile.FIFOTYPE, mode=0o600)
    t.add("tmp/", D, mode=0o1777)
    # A name that is not UTF-8 (a raw 0xff byte): bytes in ustar/GNU, hdrcharset=BINARY in PAX.
    t.add("etc/bin\udcffary", data=b"binary name\n")
    if fmt == "ustar":
        # ustar's prefix field: a 100-byte component in front of a 90-byte name.
        t.add("p" * 100 + "/" + "n" * 90, data=b"long ustar name\n")
    else:
        t.add("deep/" + "x" * 150 + "/" + "y" * 200, data=b"long name\n")
        t.add("etc/longlink", S, link="z" * 150)
    if fmt == "pax":
        cap = CAPABILITY.decode("utf-8", "surrogateescape")
        t.add("bin/ping", data=b"ping\n", mode=0o755,
              pax={"SCHILY.xattr.security.capability": cap, "SCHILY.xattr.user.empty": "",
                   "SCHILY.xattr.trusted.overlay.x": "y"})
        t.add("etc/ns", data=b"ns\n", pax={"mtime": "1700000000.123456789"})
        t.add("etc/bigid", data=b"id\n", uid=3000000000, gid=70000)
        t.add("etc/\u00e9t\u00e9", data=b"utf-8 name\n")
    t.close()


def whiteouts(out, fmt):
    t = Tar(out, fmt)
    D = tarfile.DIRTYPE
    t.add("./", D, mode=0o755)
    t.add("a/", D, mode=0o750, uid=5)
    t.add("a/.wh.gone")
    t.add("a/.wh..wh..opq")
    t.add("b/.wh..wh..opq", mtime=MTIME + 7)
    t.add("c/.wh..wh..opq")
    t.add("c/", D, mode=0o700)
    t.add("c/kept", data=b"kept\n")
    t.add(".wh.top", mode=0o600)
    t.add(".wh..wh.plnk/", D, mode=0o700)
    t.add(".wh..wh.plnk/123.456", data=b"aufs\n")
    t.close()


def whiteout_body(out, fmt):
    # A whiteout with a body: not content of the tree, so skeleton, and a big one.
    t = Tar(out, fmt)
    t.add(".wh.gone", data=content(300 * 1024, 7))
    t.add("after", data=content(70000, 8))
    t.close()


def big(out, fmt):
    t = Tar(out, fmt)
    for i in range(3):
        t.add("f%d" % i, data=content(3 * 1024 * 1024 + i, 100 + i))
    t.close()


def sparse(out, fmt):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "s1")
        with open(p, "wb") as f:
            f.truncate(3 * 1024 * 1024)
            f.seek(1048576)
            f.write(b"hello" + content(70000, 5))
            f.seek(2000000)
            f.write(b"world")
        with open(os.path.join(d, "s2"), "wb") as f:
            f.truncate(100 * 1024)
            f.seek(0, 2)
            f.write(b"tail")
        for name in ("s1", "s2"):
            os.utime(os.path.join(d, name), (MTIME, MTIME))
        os.utime(d, (MTIME, MTIME))
        opts = ["--format=gnu"] if fmt == "gnu" else [
            "--format=posix", "--sparse-version=" + fmt,
            "--pax-option=delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f"]
        subprocess.run(["tar", "--sparse", *opts, "--owner=0", "--group=0", "--numeric-owner", "-cf", out, "-C", d, "s1", "s2"],
                       check=True)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    recipe, fmt, out = sys.argv[1:]
    {"full": full, "whiteouts": whiteouts, "sparse": sparse, "big": big,
     "whiteout-body": whiteout_body}[recipe](out, fmt)


if __name__ == "__main__":
    main()
