#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 240-registries: the registries configuration (ROOT/registries.conf) and its command-line
# options: a mirror serves what it has and the registry the rest; a broken mirror is skipped;
# pushes never go to a mirror; --tls-verify=true insists on TLS even for loopback; a bad
# configuration file is a clear error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry-lib.sh"
need_root
need_cmd docker-registry umoci skopeo setfattr zstd

cd "$T" || exit 1
L=$T/oci
mk_images "$L" || skip_all "umoci cannot build the test images here"
start_registry origin || skip_all "docker-registry does not start here"
ORIGIN=$REG
push_image "$L" multi app:v1 && push_image "$L" single base:v1
start_registry mirror || skip_all "docker-registry does not start here"
REG=$REG push_image "$L" single base:v1 # the mirror has only base
start_fault_proxy "$REG" || skip_all "the fault proxy does not start"
MIRROR=$PROXY
ok $? "an origin registry with two images, a mirror (behind a logging proxy) with one"

mkdir -p "$BERTH_ROOT"
printf '# mirrors for the test\nmirror %s http://%s\n' "$ORIGIN" "$MIRROR" >"$BERTH_ROOT/registries.conf"
faults '[]'
out=$(berth pull "$ORIGIN/base:v1" 2>&1)
ok $? "pull of an image the mirror has"
grep -q "GET /v2/base/blobs/$(oci_digest "$L" single layer0)" "$FAULT_LOG"
ok $? "its layer came from the mirror"
is "$(berth images -q --no-trunc "$ORIGIN/base:v1")" "$(oci_digest "$L" single config)" \
	"and is named after the origin"
faults '[]'
out=$(berth pull "$ORIGIN/app:v1" 2>&1)
ok $? "pull of an image the mirror lacks"
like "$(cat "$FAULT_LOG")" "GET /v2/app/manifests/v1 range=- -> 404" "the mirror was asked first"
! grep -q "blobs" "$FAULT_LOG"
ok $? "and no blob came from it"
is "$(berth images -q --no-trunc "$ORIGIN/app:v1")" "$(oci_digest "$L" multi config)" \
	"the origin served it"

berth rmi "$ORIGIN/base:v1" "$ORIGIN/app:v1" >/dev/null
faults '[{"match": ".", "action": "status", "status": 500}]'
ok_run "a mirror that answers 500 is skipped" berth pull -q "$ORIGIN/base:v1"

berth pull -q "$ORIGIN/app:v1" >/dev/null && berth tag "$ORIGIN/app:v1" "$ORIGIN/pushed:v1"
faults '[]'
ok_run "push with a mirror configured" berth push -q "$ORIGIN/pushed:v1"
[ ! -s "$FAULT_LOG" ]
ok $? "a push never goes to the mirror"

# TLS: loopback is insecure by default (as in Docker); --tls-verify=true says no.
rm "$BERTH_ROOT/registries.conf"
fail_run "--tls-verify=true refuses plain HTTP, even on loopback" \
	berth pull --tls-verify=true "$ORIGIN/base:v1"
like "$LAST_OUTPUT" "https://$ORIGIN/v2/" "it tried HTTPS"
ok_run "--tls-verify=false reaches it" berth pull -q --tls-verify=false "$ORIGIN/base:v1"
ok_run "--insecure-registry is accepted" berth pull -q --insecure-registry "$ORIGIN" "$ORIGIN/base:v1"
fail_run "--tls-verify with a bad value is a usage error" berth pull --tls-verify=maybe "$ORIGIN/base:v1"

printf 'insecure\n' >"$BERTH_ROOT/registries.conf"
fail_run "a bad registries.conf is an error" berth pull "$ORIGIN/base:v1"
like "$LAST_OUTPUT" "registries.conf:1: " "naming the file and the line"
rm "$BERTH_ROOT/registries.conf"

done_testing
