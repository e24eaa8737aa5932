#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Checks deploy/kubernetes's manifests (DaemonSet, example Secret) and writes what test_deploy.sh needs.
#
# Usage: k8s_manifest.py FACTS_JSON MANIFEST...
# Prints one "ok - ..." / "not ok - ..." line per property; FACTS_JSON gets the container's command,
# probes, capabilities, mounts and the Secret, for the simulated pod. Exit status 2 if it cannot parse.
import json
import sys

import yaml

results = []


def check(desc, cond, detail=""):
    results.append((bool(cond), desc, detail))


def docs_of_kind(docs, kind):
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]


def main():
    facts_path, docs = sys.argv[1], []
    for manifest in sys.argv[2:]:
        try:
            with open(manifest) as f:
                found = [d for d in yaml.safe_load_all(f) if d]
        except (OSError, yaml.YAMLError) as e:
            print(f"not ok - {manifest} parses as YAML")
            print(f"#   {e}")
            return 2
        check(f"{manifest.rsplit('/', 1)[-1]} parses as YAML ({len(found)} documents)", found)
        docs += found

    namespaces = docs_of_kind(docs, "Namespace")
    daemonsets = docs_of_kind(docs, "DaemonSet")
    secrets = docs_of_kind(docs, "Secret")
    check("one Namespace and one DaemonSet, and the example Secret",
          len(namespaces) == 1 and len(daemonsets) == 1 and len(secrets) == 1,
          f"{len(namespaces)} namespaces, {len(daemonsets)} daemonsets, {len(secrets)} secrets")
    if len(daemonsets) != 1 or len(secrets) != 1 or len(namespaces) != 1:
        return report(None, facts_path)
    ns = namespaces[0]["metadata"]["name"]
    ds, secret = daemonsets[0], secrets[0]
    check("DaemonSet and Secret live in the Namespace",
          ds["metadata"].get("namespace") == ns and secret["metadata"].get("namespace") == ns)

    spec = ds["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    check("the selector matches the pod template's labels",
          all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()))
    check("hostNetwork: true", pod.get("hostNetwork") is True)
    surge = spec.get("updateStrategy", {}).get("rollingUpdate", {}).get("maxSurge", 0)
    check("rolling update without surge (two pods on a node would both want the interface)",
          surge in (0, "0", "0%"), f"maxSurge {surge}")
    check("tolerations and resource requests are set",
          pod.get("tolerations") and pod["containers"][0].get("resources", {}).get("requests"))

    containers = pod.get("containers", [])
    check("one container", len(containers) == 1)
    c = containers[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check("not privileged", sc.get("privileged") in (None, False))
    check("capabilities: drop ALL", caps.get("drop") == ["ALL"], f"drop {caps.get('drop')}")
    check("capabilities: add NET_ADMIN, BPF, PERFMON and nothing else",
          sorted(caps.get("add", [])) == ["BPF", "NET_ADMIN", "PERFMON"], f"add {caps.get('add')}")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = []
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"])
        check(f"volumeMount {m['name']} has a volume", v)
        if not v:
            continue
        if "hostPath" in v:
            kind, src = "hostPath", v["hostPath"]["path"]
        elif "secret" in v:
            kind, src = "secret", v["secret"]["secretName"]
        elif "emptyDir" in v:
            kind, src = "emptyDir", ""
        else:
            kind, src = "other", ""
        mounts.append({"kind": kind, "source": src, "path": m["mountPath"], "readOnly": bool(m.get("readOnly")),
                       "hostPathType": v.get("hostPath", {}).get("type", ""),
                       "defaultMode": v.get("secret", {}).get("defaultMode", 0o644)})
    by_path = {m["path"]: m for m in mounts}
    bpf = by_path.get("/sys/fs/bpf", {})
    check("the node's bpffs: hostPath /sys/fs/bpf mounted at /sys/fs/bpf",
          bpf.get("kind") == "hostPath" and bpf.get("source") == "/sys/fs/bpf", bpf)
    tun = by_path.get("/dev/net/tun", {})
    check("/dev/net/tun: hostPath CharDevice mounted at /dev/net/tun",
          tun.get("kind") == "hostPath" and tun.get("source") == "/dev/net/tun"
          and tun.get("hostPathType") == "CharDevice", tun)
    cfg = by_path.get("/etc/xwg", {})
    check("the Secret is mounted read-only at /etc/xwg",
          cfg.get("kind") == "secret" and cfg.get("source") == secret["metadata"]["name"] and cfg.get("readOnly"), cfg)
    check("the Secret's files are not world-readable (defaultMode)", not (cfg.get("defaultMode", 0o644) & 0o077),
          oct(cfg.get("defaultMode", 0o644)))
    if sc.get("readOnlyRootFilesystem"):
        run = by_path.get("/var/run/wireguard", {})
        check("read-only root: the UAPI socket directory is an emptyDir", run.get("kind") == "emptyDir", run)

    command = c.get("command", [])
    check("the command is `xwg up IFNAME --foreground` (the agent must be the container's process)",
          len(command) >= 3 and command[0].rsplit("/", 1)[-1] == "xwg" and command[1] == "up"
          and "--foreground" in command[3:], command)
    ifname = command[2] if len(command) >= 3 else ""
    conf = secret.get("stringData", {}).get(f"{ifname}.conf", "")
    check(f"the Secret holds {ifname}.conf, which `xwg up {ifname}` reads from /etc/xwg", conf)
    private_keys = [line.split("=", 1)[1].strip() for line in conf.splitlines()
                    if line.strip().lower().startswith("privatekey")]

    probes = {}
    for kind in ("readinessProbe", "livenessProbe"):
        cmd = c.get(kind, {}).get("exec", {}).get("command", [])
        check(f"{kind} runs `xwg show {ifname}`", cmd[:2] == ["xwg", "show"] and ifname in cmd[2:], cmd)
        probes[kind] = cmd

    grace = pod.get("terminationGracePeriodSeconds", 30)
    return report({"namespace": ns, "command": command, "ifname": ifname, "probes": probes,
                   "capabilities": caps.get("add", []),
                   "noNewPrivs": sc.get("allowPrivilegeEscalation") is False,
                   "readOnlyRoot": bool(sc.get("readOnlyRootFilesystem")), "mounts": mounts,
                   "secretFile": f"{ifname}.conf", "secretPrivateKeys": private_keys,
                   "grace": grace}, facts_path)


def report(facts, facts_path):
    for good, desc, detail in results:
        print(f"{'ok' if good else 'not ok'} - {desc}")
        if not good and detail != "":
            print(f"#   got: {detail}")
    if facts is not None:
        with open(facts_path, "w") as f:
            json.dump(facts, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
