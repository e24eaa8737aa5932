#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Checks deploy/kubernetes's manifest (DaemonSet, RBAC) and writes what test_deploy.sh needs.
#
# Usage: k8s_manifest.py FACTS_JSON MANIFEST...
# Prints one "ok - ..." / "not ok - ..." line per property; FACTS_JSON gets the container's command,
# probes, capabilities, mounts, init containers and RBAC rules, for the simulated pod. Exit status 2 if it cannot parse.
import json
import sys

import yaml

results = []


def check(desc, cond, detail=""):
    results.append((bool(cond), desc, detail))


def docs_of_kind(docs, kind):
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]


def flag_value(command, flag, default):
    """The value of `--flag VALUE` or `--flag=VALUE` in a command line."""
    for i, a in enumerate(command):
        if a == flag and i + 1 < len(command):
            return command[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return default


def container_mounts(c, volumes):
    mounts = []
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"])
        check(f"{c['name']}: volumeMount {m['name']} has a volume", v)
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
                       "propagation": m.get("mountPropagation", "None"),
                       "hostPathType": v.get("hostPath", {}).get("type", "")})
    return mounts


def rbac_checks(docs, ns, pod):
    """ServiceAccount, ClusterRole, ClusterRoleBinding: the pod's account is bound to the role."""
    sas, roles, bindings = (docs_of_kind(docs, k) for k in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"))
    check("one ServiceAccount, ClusterRole and ClusterRoleBinding", len(sas) == len(roles) == len(bindings) == 1,
          f"{len(sas)}, {len(roles)}, {len(bindings)}")
    if not (len(sas) == len(roles) == len(bindings) == 1):
        return []
    sa, role, binding = sas[0], roles[0], bindings[0]
    check("the ServiceAccount lives in the Namespace", sa["metadata"].get("namespace") == ns)
    check("the pod runs as that ServiceAccount", pod.get("serviceAccountName") == sa["metadata"]["name"],
          pod.get("serviceAccountName"))
    check("the pod mounts its service-account token (the agent's in-cluster credentials)",
          pod.get("automountServiceAccountToken", True) is not False)
    ref = binding.get("roleRef", {})
    check("the ClusterRoleBinding refers to the ClusterRole",
          ref.get("kind") == "ClusterRole" and ref.get("name") == role["metadata"]["name"]
          and ref.get("apiGroup") == "rbac.authorization.k8s.io", ref)
    check("the ClusterRoleBinding's only subject is the ServiceAccount",
          binding.get("subjects") == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": ns}],
          binding.get("subjects"))
    rules = role.get("rules", [])
    flat = sorted({(g, r, v) for rule in rules for g in rule.get("apiGroups", []) for r in rule.get("resources", [])
                   for v in rule.get("verbs", [])})
    check("every ClusterRole rule is about core nodes, without wildcards or resourceNames",
          all(g == "" and r == "nodes" and v != "*" for g, r, v in flat)
          and not any(rule.get("resourceNames") or rule.get("nonResourceURLs") for rule in rules), rules)
    check("the ClusterRole grants nodes: get, list, watch, patch",
          sorted(v for _, _, v in flat) == ["get", "list", "patch", "watch"], [v for _, _, v in flat])
    return [{"apiGroup": g, "resource": r, "verb": v} for g, r, v in flat]


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
    check("one Namespace and one DaemonSet, and no Secret (the agent makes its own key)",
          len(namespaces) == 1 and len(daemonsets) == 1 and not docs_of_kind(docs, "Secret"),
          f"{len(namespaces)} namespaces, {len(daemonsets)} daemonsets")
    if len(daemonsets) != 1 or len(namespaces) != 1:
        return report(None, facts_path)
    ns = namespaces[0]["metadata"]["name"]
    ds = daemonsets[0]
    check("the DaemonSet lives in the Namespace", ds["metadata"].get("namespace") == ns)

    spec = ds["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    check("the selector matches the pod template's labels",
          all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()))
    check("hostNetwork: true", pod.get("hostNetwork") is True)
    check("priorityClassName: system-node-critical", pod.get("priorityClassName") == "system-node-critical",
          pod.get("priorityClassName"))
    surge = spec.get("updateStrategy", {}).get("rollingUpdate", {}).get("maxSurge", 0)
    check("rolling update without surge (two pods on a node would both want the interface)",
          surge in (0, "0", "0%"), f"maxSurge {surge}")
    tol = pod.get("tolerations", [])
    check("tolerates every taint (a toleration with operator Exists and no key)",
          any(t.get("operator") == "Exists" and not t.get("key") and not t.get("effect") for t in tol), tol)
    rules = rbac_checks(docs, ns, pod)

    containers = pod.get("containers", [])
    check("one container", len(containers) == 1)
    c = containers[0]
    check("resource requests are set", c.get("resources", {}).get("requests"))
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check("not privileged", sc.get("privileged") in (None, False))
    check("capabilities: drop ALL", caps.get("drop") == ["ALL"], f"drop {caps.get('drop')}")
    check("capabilities: add NET_ADMIN, BPF, PERFMON and nothing else",
          sorted(caps.get("add", [])) == ["BPF", "NET_ADMIN", "PERFMON"], f"add {caps.get('add')}")
    env = {e["name"]: e for e in c.get("env", [])}
    check("NODE_NAME from the downward API (spec.nodeName)",
          env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
          env.get("NODE_NAME"))

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = container_mounts(c, volumes)
    by_path = {m["path"]: m for m in mounts}
    bpf = by_path.get("/sys/fs/bpf", {})
    check("the node's bpffs: hostPath /sys/fs/bpf mounted at /sys/fs/bpf",
          bpf.get("kind") == "hostPath" and bpf.get("source") == "/sys/fs/bpf", bpf)
    check("the agent's bpffs mount sees the node's mounts (HostToContainer; Bidirectional needs privileged)",
          bpf.get("propagation") == "HostToContainer", bpf.get("propagation"))
    inits = []
    for ic in pod.get("initContainers", []):
        im = container_mounts(ic, volumes)
        priv = ic.get("securityContext", {}).get("privileged") is True
        for m in im:
            if m["propagation"] == "Bidirectional":
                check(f"init container {ic['name']}: Bidirectional propagation only in a privileged container", priv)
        inits.append({"name": ic["name"], "command": ic.get("command", []), "mounts": im, "privileged": priv})
    check("the node's /sys/fs/bpf reaches the host both ways in one (init) container (Bidirectional)",
          any(m["path"] == "/sys/fs/bpf" and m["source"] == "/sys/fs/bpf" and m["propagation"] == "Bidirectional"
              for i in inits for m in i["mounts"]))
    tun = by_path.get("/dev/net/tun", {})
    check("/dev/net/tun: hostPath CharDevice mounted at /dev/net/tun",
          tun.get("kind") == "hostPath" and tun.get("source") == "/dev/net/tun"
          and tun.get("hostPathType") == "CharDevice", tun)

    command = c.get("command", [])
    check("the command is `xwg node-agent ...` (the agent must be the container's process)",
          len(command) >= 2 and command[0].rsplit("/", 1)[-1] == "xwg" and command[1] == "node-agent", command)
    ifname = flag_value(command, "--interface", "xwg0")
    state_dir = flag_value(command, "--state-dir", "/var/lib/xwg")
    st = by_path.get(state_dir, {})
    check(f"the state directory {state_dir} (the node's key) is a hostPath, writable",
          st.get("kind") == "hostPath" and not st.get("readOnly"), st)
    run = by_path.get("/var/run/wireguard", {})
    check("/var/run/wireguard (socket, adoption record) is a writable hostPath: the next pod finds them",
          run.get("kind") == "hostPath" and run.get("source") == "/var/run/wireguard" and not run.get("readOnly"), run)

    probes = {}
    for kind in ("readinessProbe", "livenessProbe"):
        cmd = c.get(kind, {}).get("exec", {}).get("command", [])
        check(f"{kind} runs `xwg show {ifname}`", cmd[:2] == ["xwg", "show"] and ifname in cmd[2:], cmd)
        probes[kind] = cmd

    grace = pod.get("terminationGracePeriodSeconds", 30)
    return report({"namespace": ns, "command": command, "ifname": ifname, "stateDir": state_dir, "probes": probes,
                   "capabilities": caps.get("add", []),
                   "noNewPrivs": sc.get("allowPrivilegeEscalation") is False,
                   "readOnlyRoot": bool(sc.get("readOnlyRootFilesystem")), "mounts": mounts,
                   "initContainers": inits, "rbac": rules, "grace": grace}, facts_path)


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
