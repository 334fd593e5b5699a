#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 030-bad-input: malformed and hostile input to import, load, tag, rmi, inspect, history, save,
# images and bad command lines. Each is refused with a message that says why, exit status 2 for a
# bad command line and 1 for bad input; the store keeps its images and refs (what a refused
# import or load had already put is unreachable, and gc takes it back to the baseline), the host
# is not written, and fsck is clean at the end.
source "$(dirname "$0")/lib.sh"
need_cmd python3 tar gzip sha256sum

mk_busybox_tar "$T/bb.tar"
base_id=$(berth import "$T/bb.tar" base:1)
ok $? "baseline image"
S=$BERTH_ROOT/store
snapshot() { # what must not change: image records, indexes, refs
	(cd "$S" && find images index -type f | sort && cat refs)
}
objects() { (cd "$S" && find objects -type f | sort); }
baseline=$(snapshot)
base_objects=$(objects)
passwd_sum=$(sha256sum </etc/passwd)
mkdir "$T/cwd"

# expect STATUS REGEX DESC cmd...: the command exits with STATUS and its stderr matches REGEX.
expect() {
	local status=$1 re=$2 desc=$3 rc err
	shift 3
	(cd "$T/cwd" && "$@") >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ "$rc" -eq "$status" ] && [[ "$(cat "$T/err")" =~ $re ]]; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		echo "#   command: $*"
		echo "#   exit $rc (want $status), stderr:"
		sed 's/^/#     /' "$T/err" | head -n 10
		echo "#   want stderr matching: $re"
	fi
}
unchanged() { # DESC
	is "$(snapshot)" "$baseline" "$1: images and refs unchanged"
}

# --- hostile layer tars (tests/integration/data/mkhostile.py), through import and stdin ---
H=$BERTH_SRCDIR/tests/integration/data/mkhostile.py
if [ -f "$H" ]; then
	mkdir "$T/hostile"
	python3 "$H" "$T/hostile" >"$T/hostile/cases" || ok 1 "mkhostile.py runs"
	while IFS=$'\t' read -r name rule; do
		re=$(printf '%s' "$rule" | sed 's/[][\.*^$()+?{}|]/\\&/g')
		expect 1 "Failed to import.*$re" "import refuses '$name' ($rule)" \
			berth import "$T/hostile/$name.tar" "hostile:$name"
	done <"$T/hostile/cases"
	expect 1 "path escapes the layer" "import from stdin refuses '..' too" \
		sh -c "berth() { \"\$BERTH\" --root \"\$BERTH_ROOT\" \"\$@\"; }; berth import - x <'$T/hostile/dotdot.tar'"
	unchanged "after the hostile tars"
else
	ok 0 "hostile tars # SKIP tests/integration/data/mkhostile.py is missing"
fi
is "$(sha256sum </etc/passwd)" "$passwd_sum" "the host's /etc/passwd is untouched"
is "$(ls -A "$T/cwd")" "" "nothing was written in the working directory"

# --- import: bad command lines (2) and bad input (1) ---
expect 2 "needs FILE" "import without arguments" berth import
expect 2 "at most one" "import with too many arguments" berth import "$T/bb.tar" a b
expect 2 "unknown option '--bogus'" "import --bogus" berth import --bogus "$T/bb.tar"
expect 2 "needs an argument" "import -c without its argument" berth import "$T/bb.tar" -c
expect 2 "unknown --change instruction 'FROB'" "import -c FROB" \
	berth import -c 'FROB x' "$T/bb.tar" x
expect 2 "ONBUILD" "import -c ONBUILD is refused" berth import -c 'ONBUILD RUN x' "$T/bb.tar" x
expect 2 "not a port" "import -c 'EXPOSE 99999'" berth import -c 'EXPOSE 99999' "$T/bb.tar" x
expect 2 "unterminated quote" "import -c with an unterminated quote" \
	berth import -c 'ENV A="b' "$T/bb.tar" x
expect 2 "must be lowercase" "import to an upper-case name" berth import "$T/bb.tar" Bad:1
expect 2 "digest but no tag" "import to a digest reference" \
	berth import "$T/bb.tar" "x@sha256:$(printf '%064d' 0)"
expect 2 "bad tag" "import to a bad tag" berth import "$T/bb.tar" "x:-bad"
expect 1 "Failed to open '/nonexistent'" "import of a missing file" berth import /nonexistent x
expect 1 "empty layer stream" "import of an empty stdin" berth import - x
expect 1 "Failed to import" "import of a directory" berth import "$T" x
unchanged "after bad imports"

# --- load: malformed and hostile archives ---
mkdir "$T/bad"
python3 - "$T/bad" "$(uname -m)" >"$T/bad/cases" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out, machine = sys.argv[1], sys.argv[2]
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
other = "s390x" if arch != "s390x" else "ppc64le"

def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
def tar(members):  # [(name, bytes | ("sym", target) | ("dir",))]
    f = io.BytesIO()
    with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, v in members:
            ti = tarfile.TarInfo(name); ti.mtime = 1700000000
            if isinstance(v, tuple) and v[0] == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, v[1]; t.addfile(ti)
            elif isinstance(v, tuple):
                ti.type = tarfile.DIRTYPE; t.addfile(ti)
            else:
                ti.size = len(v); t.addfile(ti, io.BytesIO(v))
    return f.getvalue()
def js(o): return json.dumps(o, separators=(",", ":")).encode()
def desc(mt, b, **kw): return dict(mediaType=mt, digest=sha(b), size=len(b), **kw)
MT_M, MT_I = "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"
MT_C, MT_L = "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"

def image(layer_tar=None, diff_ids=None, layer_mt=MT_L, config=None, drop=()):
    """Blobs and a manifest for a one-layer image; returns (manifest bytes, {digest: bytes})."""
    layer_tar = layer_tar if layer_tar is not None else tar([("hello", b"hi\n")])
    layer = gzip.compress(layer_tar, mtime=0)
    cfg = config if config is not None else js(dict(architecture=arch, os="linux",
        rootfs=dict(type="layers", diff_ids=diff_ids or [sha(layer_tar)])))
    m = js(dict(schemaVersion=2, mediaType=MT_M, config=desc(MT_C, cfg),
                layers=[desc(layer_mt, layer)]))
    blobs = {sha(b): b for b in (layer, cfg, m) if sha(b) not in drop}
    return m, blobs
def archive(name, msg, index=None, blobs=None, extra=()):
    members = [("oci-layout", js({"imageLayoutVersion": "1.0.0"}))]
    if index is not None:
        members.append(("index.json", index if isinstance(index, bytes) else js(index)))
    members += [("blobs/sha256/" + d[7:], b) for d, b in (blobs or {}).items()]
    members += list(extra)
    open(os.path.join(out, name + ".tar"), "wb").write(tar(members))
    print(f"{name}\t{msg}")
def index_of(*manifests, **ann):
    return dict(schemaVersion=2, manifests=[desc(MT_M, m, annotations=ann) if ann else
                                            desc(MT_M, m) for m in manifests])

m, b = image()
open(os.path.join(out, "not-a-tar.tar"), "wb").write(b"hello, I am not a tar archive\n" * 20)
print("not-a-tar\tnot a readable tar archive")
archive("no-index", "neither index.json nor manifest.json", extra=[("foo", b"x")])
archive("bad-index-json", "bad index.json: invalid JSON", index=b"{")
archive("index-wrong-type", "manifests: expected an array", index=dict(schemaVersion=2, manifests={}))
archive("schema1", "schemaVersion", index=dict(schemaVersion=1, manifests=[]))
archive("no-images", "the archive holds no image", index=dict(schemaVersion=2, manifests=[]))
archive("missing-manifest", "manifest blob 'blobs/sha256/[0-9a-f]+' is not in the archive",
        index=index_of(m), blobs={k: v for k, v in b.items() if k != sha(m)})
archive("blob-mismatch", "does not match its digest", index=index_of(m),
        blobs={**b, sha(m): m + b" "})
bad = index_of(m); bad["manifests"][0]["size"] += 1
archive("size-mismatch", "its descriptor says", index=bad, blobs=b)
m2, b2 = image(diff_ids=[sha(b"a"), sha(b"b")])
archive("diff-id-count", "the manifest has 1 layers but the config 2 diff_ids", index=index_of(m2), blobs=b2)
m2, b2 = image(diff_ids=[sha(b"not the layer")])
archive("wrong-diff-id", "layer DiffID mismatch", index=index_of(m2), blobs=b2)
m2, b2 = image(layer_tar=tar([("../evil", b"x")]))
archive("hostile-layer", "path escapes the layer", index=index_of(m2), blobs=b2)
m2, b2 = image(layer_mt="application/vnd.example.unknown")
archive("layer-media-type", "unsupported media type", index=index_of(m2), blobs=b2)
m2, b2 = image(config=js(dict(os="linux", rootfs=dict(type="layers", diff_ids=[]))))
archive("bad-config", "architecture: missing", index=index_of(m2), blobs=b2)
m2, b2 = image()
layer_digest = json.loads(m2)["layers"][0]["digest"]
archive("missing-layer", "layer blob .* is not in the archive", index=index_of(m2),
        blobs={k: v for k, v in b2.items() if k != layer_digest})
archive("member-dotdot", "in its path", index=index_of(m), blobs=b, extra=[("../evil", b"x")])
archive("member-twice", "appears twice", index=index_of(m), blobs=b, extra=[("index.json", b"{}")])
archive("link-loop", "neither index.json nor manifest.json", extra=[("index.json", ("sym", "index.json"))])
nested = js(dict(schemaVersion=2, manifests=[desc(MT_M, m, platform=dict(architecture=other, os="linux")),
                                            desc(MT_M, m, platform=dict(architecture=arch, os="windows"))]))
archive("no-platform", "no image for linux/" + arch,
        index=dict(schemaVersion=2, manifests=[desc(MT_I, nested)]), blobs={**b, sha(nested): nested})
chain, blobs = m, dict(b)
for i in range(6):
    mt = MT_M if i == 0 else MT_I
    chain = js(dict(schemaVersion=2, manifests=[desc(mt, chain)])); blobs[sha(chain)] = chain
archive("deep-nesting", "nested more than", index=dict(schemaVersion=2, manifests=[desc(MT_I, chain)]),
        blobs=blobs)
# Two images, the second bad: the first must not stay behind either.
good_m, good_b = image(layer_tar=tar([("other", b"other\n")]))
bad_m, bad_b = image(diff_ids=[sha(b"x")])
archive("second-bad", "layer DiffID mismatch",
        index=dict(schemaVersion=2, manifests=[desc(MT_M, good_m, annotations={
            "io.containerd.image.name": "docker.io/library/partial:1"}), desc(MT_M, bad_m)]),
        blobs={**good_b, **bad_b})
EOF
ok $? "bad archives generated"
while IFS=$'\t' read -r name msg; do
	expect 1 "Failed to load.*$msg" "load refuses '$name'" berth load -i "$T/bad/$name.tar"
done <"$T/bad/cases"
expect 1 "not a readable tar archive|neither index.json" "load of an empty stdin" berth load
is "$(berth images -q partial 2>/dev/null)" "" "a failed load sets no name"
unchanged "after bad archives"
is "$(ls -A "$S/tmp")" "" "failed loads leave no spool in tmp/"

# --- other verbs: unknown images, bad names, bad command lines ---
expect 1 "^Error: No such image: nope$" "tag of a missing image" berth tag nope x:1
expect 2 "must be lowercase" "tag to an upper-case name" berth tag base:1 Bad
expect 2 "exactly SOURCE_IMAGE and TARGET_IMAGE" "tag with one argument" berth tag base:1
expect 2 "digest but no tag" "tag to a digest" berth tag base:1 "x@sha256:$(printf '%064d' 1)"
expect 2 "needs at least one IMAGE" "rmi without arguments" berth rmi
expect 1 "^Error: No such image: nope$" "rmi of a missing image" berth rmi nope
expect 1 "^Error: No such image: abc$" "rmi of a 3-hex prefix (too short for an ID)" berth rmi abc
expect 2 "unknown option '-z'" "rmi -z" berth rmi -z base:1
expect 2 "needs at least one IMAGE" "inspect without arguments" berth inspect
expect 1 "^Error: No such image: nope$" "inspect of a missing image" berth inspect nope
is "$(cat "$T/out")" "[]" "inspect of a missing image prints []"
expect 1 "^Error: No such image: sha256:0000$" "inspect of an absent ID" berth inspect sha256:0000
expect 2 "exactly one IMAGE" "history without arguments" berth history
expect 2 "exactly one IMAGE" "history with two" berth history base:1 base:1
expect 1 "No such image: nope" "history of a missing image" berth history nope
expect 2 "at most one" "images with two arguments" berth images a b
expect 2 "must be lowercase" "images of an upper-case name" berth images Bad
expect 2 "unknown option '--bogus'" "images --bogus" berth images --bogus
expect 2 "needs at least one IMAGE" "save without arguments" berth save -o "$T/x.tar"
expect 1 "No such image: nope" "save of a missing image" berth save base:1 nope -o "$T/x.tar"
[ ! -e "$T/x.tar" ] && ! ls "$T"/x.tar.tmp-* >/dev/null 2>&1
ok $? "a failed save leaves no file"
expect 2 "needs an argument" "save -o without a file" berth save base:1 -o
expect 1 "Failed to open '/nonexistent'" "load of a missing file" berth load -i /nonexistent
expect 2 "must not have a tag" "load REPOSITORY:TAG" berth load -i "$T/bb.tar" x:1
expect 2 "at most one REPOSITORY" "load with two repositories" berth load a b
expect 2 "takes no arguments" "gc with an argument" berth gc now
expect 2 "takes no arguments" "fsck with an argument" berth fsck all
expect 2 "is not a berth command" "an unknown verb" berth frobnicate
for v in import images rmi tag history inspect save load gc fsck; do
	out=$(berth "$v" --help 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [[ "$out" == "Usage: berth $v"* ]]
	ok $? "$v --help"
done
unchanged "after the bad command lines"

# --- the store is back to its baseline ---
ok_run "gc" berth gc
is "$(objects)" "$base_objects" "gc removes what the refused input had put"
unchanged "after gc"
ok_run "fsck is clean" berth fsck
ok_run "the baseline image still saves" berth save base:1 -o "$T/base.tar"
is "$(berth images -q --no-trunc)" "$base_id" "only the baseline image is left"

done_testing
