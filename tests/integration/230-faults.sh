#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 230-faults: pulls through a proxy that injects faults (data/fault-proxy.py) in front of a real
# docker-registry. A connection dropped mid-blob resumes with Range (also when the answer to the
# Range is a plain 200); 500s and 429s are retried (Retry-After honoured) and then reported;
# corrupt or truncated blobs, configs and manifests, an unknown manifest media type and a wrong
# Content-Type fail with a clear message and exit 1, leaving no image, no ref, and a clean fsck.
# (A token endpoint that refuses is in 210-auth.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry-lib.sh"
need_root
need_cmd docker-registry umoci skopeo setfattr zstd

cd "$T" || exit 1
L=$T/oci
mk_images "$L" || skip_all "umoci cannot build the test images here"
start_registry reg || skip_all "docker-registry does not start here"
push_image "$L" multi multi:v1 && push_image "$L" single single:v1
ok $? "test images in the registry"
start_fault_proxy "$REG" || skip_all "the fault proxy does not start"
P=$PROXY
id=$(oci_digest "$L" multi config)
big=$(oci_digest "$L" multi layer0)     # about 1 MB gzip
mdig=$(oci_digest "$L" multi)
orig_tree "$L" multi orig.list

# Every failure must leave the store as it was.
n_images() { berth images -q | wc -l; }
unchanged() { # DESC
	is "$(n_images)" "$before" "$1: no image added"
	! berth images --no-trunc | grep -q "$P/multi"
	ok $? "$1: no ref"
	ok_run "$1: fsck is clean" berth fsck
}
fresh() { rm -rf "$BERTH_ROOT"; before=$(n_images); }

# --- A connection dropped in the middle of a layer resumes with Range ---
fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"drop\", \"after\": 300000, \"count\": 1}]"
out=$(berth pull "$P/multi:v1" 2>&1)
ok $? "a pull survives a connection dropped after 300000 bytes of a layer"
like "$(grep "$big" "$FAULT_LOG")" "range=bytes=300000- -> 206 pass" "it resumed with a Range request from byte 300000"
is "$(berth images -q --no-trunc "$P/multi:v1")" "$id" "the image is complete (original ID)"
saved_tree "$P/multi:v1" resumed.list && diff orig.list resumed.list >/dev/null
ok $? "and has the original tree"

fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"drop\", \"after\": 200000, \"count\": 1},
	 {\"match\": \"GET .*/blobs/$big\", \"action\": \"strip-range\"}]"
out=$(berth pull "$P/multi:v1" 2>&1)
ok $? "a resume answered with 200 (Range ignored) also completes"
like "$(grep "$big" "$FAULT_LOG" | tail -n 1)" "range=bytes=200000- -> 200 strip-range" "the second answer was a whole 200"
is "$(berth images -q --no-trunc "$P/multi:v1")" "$id" "the image is complete"

fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"drop\", \"after\": 100000, \"count\": 3}]"
ok_run "three drops in a row, each after progress, still complete" berth pull -q "$P/multi:v1"

# --- Corruption: digest errors, nothing left behind ---
fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"corrupt\", \"offset\": 5000}]"
fail_run "a corrupted byte in a layer fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "layer 0 \($big\)" "names the layer"
like "$LAST_OUTPUT" "mismatch|digest|corrupt|checksum|CRC" "and says it is corrupt"
unchanged "corrupt layer"
berth gc >/dev/null 2>&1
is "$(find "$BERTH_ROOT/store/objects" -type f 2>/dev/null | wc -l)" 0 "gc takes every object the failed pull put"

fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"truncate\", \"length\": 400000}]"
fail_run "a truncated layer fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "layer 0" "names the layer"
unchanged "truncated layer"

fresh
faults "[{\"match\": \"GET .*/blobs/$id\", \"action\": \"corrupt\", \"offset\": 10}]"
fail_run "a corrupted config fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "the image config does not match its digest" "says the config does not match"
unchanged "corrupt config"

fresh
faults "[{\"match\": \"GET .*/manifests/v1\", \"action\": \"corrupt\", \"offset\": 30}]"
fail_run "a corrupted manifest fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "does not match the registry's Docker-Content-Digest" "caught by the registry's digest"
faults "[{\"match\": \"GET .*/manifests/$mdig\", \"action\": \"corrupt\", \"offset\": 30}]"
fail_run "a corrupted manifest pulled by digest fails" berth pull "$P/multi@$mdig"
like "$LAST_OUTPUT" "the manifest does not match its digest" "caught by the digest asked for"
unchanged "corrupt manifest"

# --- 500s and 429s ---
fresh
faults '[{"match": "GET .*/manifests/", "action": "status", "status": 500, "count": 2}]'
ok_run "two 500s on the manifest are retried" berth pull -q "$P/multi:v1"
is "$(grep -c 'manifests/v1' "$FAULT_LOG")" 3 "three requests for it"

fresh
faults '[{"match": "GET .*/blobs/", "action": "status", "status": 503, "count": 2}]'
ok_run "503s on blobs are retried" berth pull -q "$P/multi:v1"

fresh
faults '[{"match": "GET .*/manifests/", "action": "status", "status": 429, "headers": {"Retry-After": "2"}, "count": 1}]'
start=$(date +%s%N)
ok_run "a 429 with Retry-After: 2 is waited out" berth pull -q "$P/multi:v1"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 1900 ]
ok $? "berth waited as told (${ms} ms)"

fresh
faults '[{"match": "GET .*/blobs/", "action": "status", "status": 500}]'
fail_run "500s that do not stop fail the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "HTTP 500: INJECTED: fault proxy \(after retries\)" "with the status, the registry's message and the retries"
unchanged "500s"

fresh
faults '[{"match": "GET .*/manifests/", "action": "status", "status": 429, "headers": {"Retry-After": "0"}}]'
fail_run "429s that do not stop fail the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "HTTP 429" "with the status"
is "$(grep -c 'manifests/v1' "$FAULT_LOG")" 5 "after five tries"
unchanged "429s"

# --- Media types ---
fresh
faults '[{"match": "GET .*/manifests/", "action": "content-type", "value": "application/vnd.example.unknown+json"}]'
fail_run "a manifest of an unknown media type fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "unsupported manifest media type 'application/vnd.example.unknown\+json'" "and names the type"
faults '[{"match": "GET .*/manifests/", "action": "content-type", "value": "application/vnd.oci.image.index.v1+json"}]'
fail_run "a manifest served as an index fails the pull" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "says the manifest is 'application/vnd.oci.image.index.v1\+json', but it is an image manifest" \
	"and says what does not agree"
faults '[{"match": "GET .*/manifests/", "action": "content-type", "value": "application/vnd.docker.distribution.manifest.v1+prettyjws"}]'
fail_run "a schema 1 Content-Type is refused" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "schema 1" "as unsupported"
unchanged "bad media types"
faults '[{"match": "GET .*/manifests/", "action": "content-type", "value": "application/json"}]'
ok_run "a generic application/json Content-Type is read by its content" berth pull -q "$P/multi:v1"

# --- The registry goes away mid-pull ---
fresh
faults "[{\"match\": \"GET .*/blobs/$big\", \"action\": \"drop\", \"after\": 0}]"
fail_run "a layer that is always cut before any byte fails in the end" berth pull "$P/multi:v1"
like "$LAST_OUTPUT" "layer 0 .*after [0-9]+ attempts|layer 0 .*Connection|layer 0 .*transfer" "with the transport error"
unchanged "always cut"

# --- Pushes through the proxy ---
fresh
berth pull -q "$REG/multi:v1" >/dev/null && berth tag "$REG/multi:v1" "$P/pushed:v1"
faults '[{"match": "PUT .*/blobs/uploads/", "action": "status", "status": 500, "count": 1}]'
out=$(berth push "$P/pushed:v1" 2>&1)
ok $? "a push survives a 500 on a blob's closing PUT (the upload starts over)"
is "$(grep -c 'POST .*/blobs/uploads/ ' "$FAULT_LOG")" 5 "four blob uploads and one restart"
faults '[{"match": "PATCH .*/blobs/uploads/", "action": "status", "status": 503, "headers": {"Retry-After": "0"}, "count": 2}]'
ok_run "503s on chunk PATCHes are retried" env BERTH_PUSH_CHUNK_SIZE=262144 "$BERTH" \
	--root "$BERTH_ROOT" push --compression none "$P/pushed:v1" "$P/chunks:v1"
is "$(BERTH_ROOT=$T/root-check berth pull -q "$REG/chunks:v1" >/dev/null && BERTH_ROOT=$T/root-check berth images -q --no-trunc "$REG/chunks:v1")" \
	"$id" "and the chunked image arrived whole"
faults '[{"match": "PUT .*/manifests/", "action": "status", "status": 500}]'
fail_run "a manifest PUT that keeps failing fails the push" berth push "$P/pushed:v1" "$P/never:v1"
like "$LAST_OUTPUT" "manifest upload: HTTP 500" "with the step and the status"
fail_run "and the tag does not exist in the registry" skopeo inspect --tls-verify=false "docker://$REG/never:v1"

done_testing
