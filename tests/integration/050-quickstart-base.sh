#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 050-quickstart-base: tools/mkbase.sh, the quick start's step that makes the `base` image, works:
# from the Debian mirror (debootstrap minbase: /bin/bash, CMD ["/bin/bash"]), and through the
# busybox-static fallback (/bin/sh, CMD ["/bin/sh"]); it leaves an existing image alone unless
# --force. Everything it builds stays inside the test's temp dir. Slow (a debootstrap, ~1-2 min).
source "$(dirname "$0")/lib.sh"
need_root
need_cmd python3 tar

mkbase=$BERTH_SRCDIR/tools/mkbase.sh
export BERTH # mkbase.sh runs this binary; lib.sh has exported BERTH_ROOT=$T/root
# Should mkbase die hard in debootstrap, no mount (its chroot's proc, sys) may outlive the test.
on_exit 'awk -v d="$T" '"'"'index($5, d "/") == 1 { print $5 }'"'"' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l'

# The TYPE of each PATH in an image's root filesystem, read from `berth save`'s OCI layout,
# following the image's own symlinks (bookworm's /bin is a symlink to usr/bin): "file", "dir",
# "missing", ...
# Saves IMAGE once per call of `types_of`, which fills TYPES[PATH] for each PATH given.
declare -A TYPES
types_of() { # IMAGE PATH...
	local img=$1 line
	shift
	TYPES=()
	if ! berth save "$img" -o "$T/save.tar" >/dev/null 2>&1; then
		for line in "$@"; do TYPES[$line]=save-failed; done
		return
	fi
	while IFS=' ' read -r t line; do TYPES[$line]=$t; done < <(image_path_types "$T/save.tar" "$@")
	rm -f "$T/save.tar"
}
image_path_types() { # LAYOUT_TAR PATH...: "TYPE PATH" lines
	python3 - "$@" <<-'EOF'
	import json, posixpath, sys, tarfile
	outer = tarfile.open(sys.argv[1])
	def blob(d):
	    return outer.extractfile("blobs/" + d.replace(":", "/"))
	index = json.load(outer.extractfile("index.json"))
	manifest = json.load(blob(index["manifests"][0]["digest"]))
	entries = {}
	for layer in manifest["layers"]:
	    with tarfile.open(fileobj=blob(layer["digest"])) as t:
	        for m in t:
	            name = posixpath.normpath("/" + m.name)
	            base = posixpath.basename(name)
	            if base.startswith(".wh."):
	                gone = posixpath.join(posixpath.dirname(name), base[4:])
	                entries = {k: v for k, v in entries.items() if k != gone and not k.startswith(gone + "/")}
	                continue
	            entries[name] = m
	def resolve(path, depth=0):
	    parts = [p for p in path.split("/") if p]
	    cur = "/"
	    for i, p in enumerate(parts):
	        nxt = posixpath.join(cur, p)
	        m = entries.get(nxt)
	        if m is not None and m.issym() and depth < 40:
	            target = m.linkname if m.linkname.startswith("/") else posixpath.join(cur, m.linkname)
	            return resolve(posixpath.normpath(target) + "/" + "/".join(parts[i + 1:]), depth + 1)
	        cur = nxt
	    return entries.get(posixpath.normpath(cur))
	for path in sys.argv[2:]:
	    m = resolve(path)
	    print("missing" if m is None else "file" if m.isfile() else "dir" if m.isdir() else
	          "link" if m.islnk() or m.issym() else "other", path)
	EOF
}

inspect_field() { # IMAGE FIELD: "Id", or "Cmd" (of Config), as compact JSON
	berth inspect "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
if sys.argv[1] == "Id":
    print(d.get("Id"))
else:
    c = d.get("Config") or d.get("config") or {}
    print(json.dumps(c.get(sys.argv[1]), separators=(",", ":")))' "$2"
}
cmd_of() { inspect_field "$1" Cmd; }

# 1. The busybox fallback, always (fast): what a machine without a mirror gets.
out=$(timeout -k 20 120 "$mkbase" --no-mirror --tmpdir "$T" base-bb 2>&1)
rc=$?
ok "$rc" "mkbase --no-mirror builds the busybox fallback"
if [ "$rc" -ne 0 ]; then
	printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20
	echo "# mkbase fails even without a mirror: not trying debootstrap"
	done_testing
	exit 0
fi
like "$out" "FALLING BACK.*/bin/sh.*NOT /bin/bash" "the fallback says loudly that there is no /bin/bash"
types_of base-bb /bin/sh /tmp
is "${TYPES[/bin/sh]}" "file" "the fallback image has /bin/sh"
is "${TYPES[/tmp]}" "dir" "the fallback image has /tmp"
is "$(cmd_of base-bb)" '["/bin/sh"]' "the fallback image's CMD is /bin/sh"
id1=$(inspect_field base-bb Id)
out=$("$mkbase" --no-mirror --tmpdir "$T" base-bb 2>&1)
like "$out" "exists already" "a second mkbase leaves an existing image alone"
is "$(inspect_field base-bb Id)" "$id1" "the image is unchanged"
ok_run "mkbase --force replaces it" "$mkbase" --force --no-mirror --tmpdir "$T" base-bb
types_of base-bb /bin/sh
is "${TYPES[/bin/sh]}" "file" "the replaced image has /bin/sh"

# 2. The real thing: debootstrap from this machine's mirror, as the quick start does.
t0=$SECONDS
out=$(timeout -k 20 900 "$mkbase" --tmpdir "$T" 2>&1)
rc=$?
echo "# mkbase took $((SECONDS - t0)) s"
ok "$rc" "mkbase builds 'base'"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 30
t0=$SECONDS
types_of base /bin/bash /bin/sh /usr/bin/apt-get /tmp /proc /dev
echo "# berth save and reading it back took $((SECONDS - t0)) s"
if [[ "$out" == *"FALLING BACK"* ]]; then
	why=$(printf '%s\n' "$out" | grep -m1 -E 'does not answer|no Debian mirror|not installed|debootstrap failed' || echo "no mirror")
	ok 0 "base has /bin/bash # SKIP the Debian mirror is unreachable here (${why#mkbase: })"
	is "${TYPES[/bin/sh]}" "file" "the fallback base has /bin/sh"
else
	is "${TYPES[/bin/bash]}" "file" "base has /bin/bash"
	is "${TYPES[/usr/bin/apt-get]}" "file" "base is a Debian system (apt-get)"
	is "$(cmd_of base)" '["/bin/bash"]' "base's CMD is /bin/bash"
fi
is "${TYPES[/tmp]}" "dir" "base has /tmp"
is "${TYPES[/proc]}" "dir" "base has /proc"
is "${TYPES[/dev]}" "dir" "base has /dev"
ok_run "fsck is clean" berth fsck
left=$(find "$T" -maxdepth 1 -name 'berth-mkbase.*' | wc -l)
is "$left" "0" "mkbase removed its temp dir"

done_testing
