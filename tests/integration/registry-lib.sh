# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/integration/registry-lib.sh: shared by the registry tests (200-249), sourced after lib.sh.
#
#   start_registry NAME [YAML]  a real docker-registry on 127.0.0.1:<free port>, storage under $T,
#                               YAML appended to its config (auth); sets REG=127.0.0.1:PORT
#   free_port                   a TCP port nobody listens on (now)
#   mk_images LAYOUT            test images built with umoci in an OCI layout (see below)
#   push_image LAYOUT NAME REPO[:TAG] [skopeo args]   skopeo copy to $REG
#   saved_tree IMAGE OUT        berth save IMAGE, umoci unpack of that, tree listing into OUT
#   orig_tree LAYOUT NAME OUT   umoci unpack of the original, tree listing into OUT
#   wait_http URL               until something answers at URL (10 s)
# Every process started here is registered with track_pid; traffic stays on 127.0.0.1.

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
DATA="$BERTH_SRCDIR/tests/integration/data"
export BERTH_NO_TTY=1
# Fault tests want quick retries; the defaults (250 ms doubling) would make them slow.
export BERTH_HTTP_BACKOFF_MS=${BERTH_HTTP_BACKOFF_MS:-50}

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
	"$PY" - "$1" <<-'EOF' && return 0
	import sys, time, urllib.error, urllib.request
	for _ in range(100):
	    try:
	        urllib.request.urlopen(sys.argv[1], timeout=1)
	        sys.exit(0)
	    except urllib.error.HTTPError:
	        sys.exit(0)  # an answer, whatever its status
	    except (urllib.error.URLError, OSError):
	        time.sleep(0.1)
	sys.exit(1)
	EOF
	echo "# nothing answers at $1" >&2
	return 1
}

start_registry() {
	local name=$1 extra=${2:-} port
	port=$(free_port)
	mkdir -p "$T/$name-data"
	cat >"$T/$name.yml" <<-EOF
	version: 0.1
	log:
	  level: warn
	  accesslog:
	    disabled: true
	storage:
	  filesystem:
	    rootdirectory: $T/$name-data
	  delete:
	    enabled: true
	http:
	  addr: 127.0.0.1:$port
	$extra
	EOF
	docker-registry serve "$T/$name.yml" >"$T/$name.log" 2>&1 &
	track_pid $!
	wait_http "http://127.0.0.1:$port/v2/" || { sed 's/^/#   /' "$T/$name.log"; return 1; }
	REG=127.0.0.1:$port
}

tree_list() { "$PY" "$DATA/tree-list.py" "$1"; }

HOST_ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
OTHER_ARCH=arm64
[ "$HOST_ARCH" = arm64 ] && OTHER_ARCH=amd64

# mk_images LAYOUT: in an OCI layout,
#   single  busybox-static rootfs, one layer
#   multi   single + a layer of deletions (whiteouts), replacements, hard links, xattrs, symlinks,
#           owners, sub-second mtimes + a hand-made layer with an opaque directory
#   arm     single with an $OTHER_ARCH config (same layer, another image ID)
#   zstd    multi with its layers recompressed as tar+zstd (same config, same image ID)
#   index   an OCI index of single (linux/$HOST_ARCH) and arm (linux/$OTHER_ARCH)
mk_images() {
	local L=$1 w=$T/mk.$$ R
	mkdir -p "$w"
	umoci init --layout "$L" && umoci new --image "$L:single" || return 1
	umoci unpack --image "$L:single" "$w/b1" >/dev/null || return 1
	R=$w/b1/rootfs
	mk_busybox_rootfs "$R"
	echo hello >"$R/etc/motd"
	umoci repack --image "$L:single" "$w/b1" >/dev/null || return 1

	# repack onto another tag: multi = single + this layer; single stays as it is.
	umoci unpack --image "$L:single" "$w/b2" >/dev/null || return 1
	R=$w/b2/rootfs
	rm -rf "$R/var" "$R/etc/group" "$R/bin/ls"
	echo changed >"$R/etc/motd"
	mkdir -p "$R/data/sub" "$R/opq/old"
	echo x >"$R/opq/old/f"
	echo shared >"$R/data/a" && ln "$R/data/a" "$R/data/a-link"
	ln -s ../etc/motd "$R/data/rel" && ln -s /nowhere "$R/data/dangling"
	setfattr -n user.berth -v test "$R/data/a" || return 1
	chown 1000:1001 "$R/data/sub"
	touch -h -d '2021-02-03 04:05:06.123456789' "$R/data/a" "$R/data/rel"
	umoci repack --image "$L:multi" "$w/b2" >/dev/null || return 1

	"$PY" - "$w/l3.tar" <<-'EOF' || return 1
	import io, sys, tarfile
	t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
	def add(name, typ=tarfile.REGTYPE, data=b"", mode=0o644, **kw):
	    ti = tarfile.TarInfo(name); ti.type = typ; ti.mode = mode; ti.mtime = 1600000000.5
	    for k, v in kw.items(): setattr(ti, k, v)
	    ti.size = len(data) if typ == tarfile.REGTYPE else 0
	    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
	add("opq/", tarfile.DIRTYPE, mode=0o750, uid=7, gid=8)
	add("opq/.wh..wh..opq")
	add("opq/new", data=b"new\n", mode=0o600, uid=5, gid=6)
	add("data/", tarfile.DIRTYPE, mode=0o755)
	add("data/.wh.dangling")
	t.close()
	EOF
	umoci raw add-layer --image "$L:multi" "$w/l3.tar" >/dev/null || return 1
	umoci config --image "$L:single" --tag arm --architecture "$OTHER_ARCH" >/dev/null || return 1
	"$PY" "$DATA/oci-edit.py" zstd "$L" multi zstd || return 1
	"$PY" "$DATA/oci-edit.py" index "$L" index "single=linux/$HOST_ARCH" "arm=linux/$OTHER_ARCH" || return 1
	rm -rf "$w"
}

oci_digest() { "$PY" "$DATA/oci-edit.py" digest "$@"; }

# push_image LAYOUT NAME REPO:TAG [skopeo args...]
push_image() {
	local L=$1 name=$2 dst=$3
	shift 3
	skopeo copy -q --dest-tls-verify=false "$@" "oci:$L:$name" "docker://$REG/$dst"
}

orig_tree() { # LAYOUT NAME OUT
	local d
	d=$(mktemp -d "$T/orig.XXXXXX")
	umoci unpack --image "$1:$2" "$d/b" >/dev/null && tree_list "$d/b/rootfs" >"$3"
	local rc=$?
	rm -rf "$d"
	return $rc
}

saved_tree() { # IMAGE OUT
	local d
	d=$(mktemp -d "$T/saved.XXXXXX")
	berth save -o "$d/img.tar" "$1" && mkdir "$d/l" && tar -C "$d/l" -xf "$d/img.tar" &&
		umoci unpack --image "$d/l:$(berth_tag_of "$1")" "$d/b" >/dev/null &&
		tree_list "$d/b/rootfs" >"$2"
	local rc=$?
	rm -rf "$d"
	return $rc
}

# The tag berth save gives an image named NAME:TAG in index.json's ref.name.
berth_tag_of() { echo "${1##*:}"; }

# mk_htpasswd FILE USER:PASS...: bcrypt entries, as docker-registry's htpasswd auth wants.
mk_htpasswd() {
	local f=$1
	shift
	if command -v htpasswd >/dev/null; then
		local up
		: >"$f"
		for up in "$@"; do htpasswd -B -b "$f" "${up%%:*}" "${up#*:}" 2>/dev/null || return 1; done
	else
		"$PY" -W ignore - "$f" "$@" <<-'EOF2'
		import crypt, sys
		with open(sys.argv[1], "w") as f:
		    for up in sys.argv[2:]:
		        u, p = up.split(":", 1)
		        f.write("%s:%s\n" % (u, crypt.crypt(p, crypt.mksalt(crypt.METHOD_BLOWFISH))))
		EOF2
	fi
}

# start_token_server USER:PASS...: a token server (data/token-server.py) with a key and a
# self-signed certificate made here; sets TOKEN_URL, TOKEN_CERT, TOKEN_LOG, TOKEN_YAML (the
# registry's auth section).
start_token_server() {
	local d=$T/token i
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 \
		-subj /CN=berth-test-token >/dev/null 2>&1 || return 1
	: >"$d/log"
	"$PY" "$DATA/token-server.py" "$d/port" "$d/key.pem" berth-test-issuer "$d/log" "$@" \
		>"$d/stderr" 2>&1 &
	track_pid $!
	for i in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	[ -s "$d/port" ] || { sed 's/^/#   /' "$d/stderr"; return 1; }
	TOKEN_URL=http://127.0.0.1:$(cat "$d/port")
	TOKEN_CERT=$d/cert.pem
	TOKEN_LOG=$d/log
	TOKEN_YAML="auth:
  token:
    realm: $TOKEN_URL/token
    service: berth-test
    issuer: berth-test-issuer
    rootcertbundle: $TOKEN_CERT"
}

# start_fault_proxy HOST:PORT: data/fault-proxy.py in front of that registry; sets PROXY (its
# host:port), FAULTS (the rules file: `faults JSON` rewrites it) and FAULT_LOG.
start_fault_proxy() {
	local d=$T/proxy i
	mkdir -p "$d"
	FAULTS=$d/rules.json
	FAULT_LOG=$d/log
	echo '[]' >"$FAULTS"
	: >"$FAULT_LOG"
	"$PY" "$DATA/fault-proxy.py" "$d/port" "${1##*:}" "$FAULTS" "$FAULT_LOG" >"$d/stderr" 2>&1 &
	track_pid $!
	for i in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	[ -s "$d/port" ] || { sed 's/^/#   /' "$d/stderr"; return 1; }
	PROXY=127.0.0.1:$(cat "$d/port")
}
faults() { echo "$1" >"$FAULTS"; : >"$FAULT_LOG"; }
