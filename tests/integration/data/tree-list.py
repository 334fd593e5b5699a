#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# tree-list.py DIR: one line per path of a tree, for comparing unpacked images: mode, owner, mtime
# (ns), content hash, link target, device numbers, xattrs, and for hard links the first path of
# the inode. Sorted, so two listings diff cleanly.
import hashlib, os, stat, sys

root, first = sys.argv[1], {}


def show(rel, p):
    st = os.lstat(p)
    line = [rel, oct(st.st_mode), str(st.st_uid), str(st.st_gid), str(st.st_mtime_ns)]
    if stat.S_ISREG(st.st_mode):
        with open(p, "rb") as f:
            line.append(hashlib.sha256(f.read()).hexdigest())
        if st.st_nlink > 1:
            line.append("inode-of=" + first.setdefault((st.st_dev, st.st_ino), rel))
    elif stat.S_ISLNK(st.st_mode):
        line.append("-> " + os.readlink(p))
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        line.append("dev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    for x in sorted(os.listxattr(p, follow_symlinks=False)):
        line.append("%s=%s" % (x, os.getxattr(p, x, follow_symlinks=False).hex()))
    print(" ".join(line))


show(".", root)
for dp, dns, fns in os.walk(root):
    dns.sort()
    for n in sorted(dns + fns):
        show(os.path.relpath(os.path.join(dp, n), root), os.path.join(dp, n))
