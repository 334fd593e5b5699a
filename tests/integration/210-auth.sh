#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 210-auth: pulls from a docker-registry that wants credentials: Basic auth (htpasswd), and
# Bearer tokens from a token server the test runs itself (data/token-server.py, its certificate
# in the registry's rootcertbundle). berth login checks credentials before storing them (mode
# 0600, Docker's config.json shape), berth logout removes them, and pulls fail clearly without
# them. Tokens are cached: one pull asks the token server once, not once per blob.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry-lib.sh"
need_root
need_cmd docker-registry umoci skopeo openssl setfattr zstd

cd "$T" || exit 1
export BERTH_CONFIG=$T/cfg/auth.json
L=$T/oci
mk_images "$L" || skip_all "umoci cannot build the test images here"

# ---------------- Basic auth ----------------
mk_htpasswd "$T/htpasswd" alice:wonder-land bob:builder || skip_all "cannot make a bcrypt htpasswd"
start_registry basic "auth:
  htpasswd:
    realm: berth-basic
    path: $T/htpasswd" || skip_all "docker-registry does not start with htpasswd auth"
BASIC=$REG
push_image "$L" multi app:v1 --dest-creds alice:wonder-land
ok $? "skopeo pushes with Basic credentials"

fail_run "pull without credentials fails" berth pull "$BASIC/app:v1"
like "$LAST_OUTPUT" "wants a user name and password \(berth login $BASIC\)" "and says how to log in"
fail_run "login with a wrong password fails" berth login -u alice -p nope "$BASIC"
like "$LAST_OUTPUT" "refused the user name and password" "and says the registry refused"
[ ! -e "$BERTH_CONFIG" ]
ok $? "a failed login stores nothing"
out=$(echo wonder-land | berth login -u alice --password-stdin "$BASIC" 2>&1)
ok $? "login with --password-stdin"
like "$out" "Login Succeeded" "prints Login Succeeded"
is "$(stat -c %a "$BERTH_CONFIG")" 600 "the credentials file is mode 0600"
is "$("$PY" -c 'import json,sys,base64; print(base64.b64decode(json.load(open(sys.argv[1]))["auths"][sys.argv[2]]["auth"]).decode())' "$BERTH_CONFIG" "$BASIC")" \
	"alice:wonder-land" "stored in Docker's config.json shape"
out=$(berth pull "$BASIC/app:v1" 2>&1)
ok $? "pull with stored Basic credentials"
orig_tree "$L" multi orig.list
saved_tree "$BASIC/app:v1" basic.list && diff orig.list basic.list >/dev/null
ok $? "the image pulled with Basic auth is the original"
out=$(berth logout "$BASIC" 2>&1)
is "$out" "Removing login credentials for $BASIC" "logout removes them"
is "$(berth logout "$BASIC" 2>&1)" "Not logged in to $BASIC" "a second logout says there is nothing"
berth rmi "$BASIC/app:v1" >/dev/null
fail_run "pull after logout fails again" berth pull "$BASIC/app:v1"
ok_run "login with a URL for the server" berth login -u bob -p builder "http://$BASIC/"
ok_run "pull as bob" berth pull -q "$BASIC/app:v1"
ok_run "logout with a URL" berth logout "http://$BASIC/v2/"
fail_run "login without a user on a non-terminal fails" berth login "$BASIC" </dev/null

# ---------------- Bearer tokens ----------------
start_token_server alice:wonder-land locked:x || skip_all "the token server does not start"
start_registry bearer "$TOKEN_YAML" || skip_all "docker-registry does not start with token auth"
BEARER=$REG
push_image "$L" multi private/app:v1 --dest-creds alice:wonder-land &&
	push_image "$L" single public/base:v1 --dest-creds alice:wonder-land
ok $? "skopeo pushes with Bearer tokens"

: >"$TOKEN_LOG"
out=$(berth pull "$BEARER/public/base:v1" 2>&1)
ok $? "anonymous pull of a public repository (anonymous token)"
is "$(wc -l <"$TOKEN_LOG")" 1 "one token request for the whole pull"
like "$(cat "$TOKEN_LOG")" "service=berth-test&scope=repository%3Apublic%2Fbase%3Apull -\$" \
	"asked for pull on the repository, anonymously"
fail_run "anonymous pull of a private repository fails" berth pull "$BEARER/private/app:v1"
like "$LAST_OUTPUT" "UNAUTHORIZED" "with the registry's reason"
fail_run "login with a wrong password fails" berth login -u alice -p bad "$BEARER"
like "$LAST_OUTPUT" "token server .* refused \(HTTP 401\)" "the token server said no"
fail_run "a locked account cannot log in" berth login -u locked -p x "$BEARER"
ok_run "login with a good password" berth login -u alice -p wonder-land "$BEARER"
: >"$TOKEN_LOG"
out=$(berth pull "$BEARER/private/app:v1" 2>&1)
ok $? "pull of a private repository with a token"
is "$(wc -l <"$TOKEN_LOG")" 1 "one token request for three blobs, a config and a manifest"
like "$(cat "$TOKEN_LOG")" " alice\$" "the token was asked for as alice"
saved_tree "$BEARER/private/app:v1" bearer.list && diff orig.list bearer.list >/dev/null
ok $? "the image pulled with a token is the original"
out=$(berth pull "$BEARER/private/app:v1" 2>&1)
like "$out" "Image is up to date" "a second pull is up to date"
ok_run "logout" berth logout "$BEARER"

# A token realm that refuses everyone: the registry's challenge points there.
start_registry refusing "auth:
  token:
    realm: $TOKEN_URL/refuse/token
    service: berth-test
    issuer: berth-test-issuer
    rootcertbundle: $TOKEN_CERT" || skip_all "docker-registry does not start"
n=$(berth images -q | wc -l)
fail_run "a token endpoint that refuses fails the pull" berth pull "$REG/public/base:v1"
like "$LAST_OUTPUT" "the token server '$TOKEN_URL/refuse/token' refused \(HTTP 401\): UNAUTHORIZED: bad credentials" \
	"and names the token server and its reason"
is "$(berth images -q | wc -l)" "$n" "no image added"
ok_run "fsck is clean" berth fsck

done_testing
