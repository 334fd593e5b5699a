#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# oci-edit.py: small edits of an OCI image layout (a directory), for building test images that
# umoci cannot make by itself. Images are named by their org.opencontainers.image.ref.name.
#
#   oci-edit.py zstd LAYOUT SRC DST          DST = SRC with every layer recompressed as tar+zstd
#   oci-edit.py index LAYOUT DST SRC=os/arch[/variant]...   DST = an image index of the SRCs
#   oci-edit.py digest LAYOUT NAME [config|layerN]  the manifest's (or its config's, layer's) digest
import gzip, hashlib, json, os, subprocess, sys

REF = "org.opencontainers.image.ref.name"


def blob_path(d, digest):
    return os.path.join(d, "blobs", *digest.split(":", 1))


def read_blob(d, digest):
    with open(blob_path(d, digest), "rb") as f:
        return f.read()


def write_blob(d, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(d, digest), "wb") as f:
        f.write(data)
    return digest


def load_index(d):
    with open(os.path.join(d, "index.json")) as f:
        return json.load(f)


def find(d, name):
    for m in load_index(d)["manifests"]:
        if m.get("annotations", {}).get(REF) == name:
            return m
    sys.exit("no image named %r in %s" % (name, d))


def add(d, desc, name):
    idx = load_index(d)
    idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get(REF) != name]
    desc = dict(desc, annotations={REF: name})
    idx["manifests"].append(desc)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(idx, f)


def zstd(d, src, dst):
    desc = find(d, src)
    m = json.loads(read_blob(d, desc["digest"]))
    for layer in m["layers"]:
        raw = read_blob(d, layer["digest"])
        if layer["mediaType"].endswith("gzip"):
            raw = gzip.decompress(raw)
        z = subprocess.run(["zstd", "-q", "-3", "-c"], input=raw, stdout=subprocess.PIPE,
                           check=True).stdout
        layer.update(mediaType="application/vnd.oci.image.layer.v1.tar+zstd",
                     digest=write_blob(d, z), size=len(z))
    data = json.dumps(m).encode()
    add(d, {"mediaType": desc["mediaType"], "digest": write_blob(d, data), "size": len(data)}, dst)


def index(d, dst, specs):
    manifests = []
    for spec in specs:
        name, plat = spec.split("=", 1)
        parts = plat.split("/")
        desc = {k: v for k, v in find(d, name).items() if k != "annotations"}
        desc["platform"] = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            desc["platform"]["variant"] = parts[2]
        manifests.append(desc)
    data = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests}).encode()
    add(d, {"mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": write_blob(d, data), "size": len(data)}, dst)


def digest(d, name, what=None):
    desc = find(d, name)
    if what == "config":
        print(json.loads(read_blob(d, desc["digest"]))["config"]["digest"])
    elif what and what.startswith("layer"):
        print(json.loads(read_blob(d, desc["digest"]))["layers"][int(what[5:])]["digest"])
    else:
        print(desc["digest"])


cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "zstd":
    zstd(*args)
elif cmd == "index":
    index(args[0], args[1], args[2:])
elif cmd == "digest":
    digest(*args)
else:
    sys.exit("unknown command " + cmd)
