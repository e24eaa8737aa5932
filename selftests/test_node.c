/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests of the node agent's parsers and decisions: kubeconfig, watch lines, Node objects, the reconciler. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "encoding.h"
#include "kube_config.h"
#include "node_device.h"
#include "node_mesh.h"
#include "node_watch.h"

/* "-----BEGIN X-----\n" in base64 and back: enough to see the bytes arrive. */
#define PEM_TEXT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static char *b64(const char *s)
{
	static char out[512];
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? (unsigned char)s[i + 2] : 0);

		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int kc_parse(struct kube_config *kc, const char *text, char *err)
{
	err[0] = '\0';
	return kube_config_parse(kc, text, strlen(text), "/etc/kube", "test.kubeconfig", err, 512);
}

static void test_kubeconfig_inline_data(void)
{
	char text[4096], err[512], ca[512];
	struct kube_config kc;

	snprintf(ca, sizeof(ca), "%s", b64(PEM_TEXT));
	snprintf(text, sizeof(text),
		 "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
		 "    certificate-authority-data: %s\nusers:\n- name: u1\n  user:\n    client-certificate-data: %s\n"
		 "    client-key-data: %s\n    token: abc.def\ncontexts:\n- name: x\n  context: {cluster: c1, user: u1}\n"
		 "current-context: x\n", ca, ca, b64("KEY"));
	ASSERT_EQ(kc_parse(&kc, text, err), 0);
	ASSERT_STREQ(kc.server, "https://10.0.0.1:6443");
	ASSERT_STREQ(kc.token, "abc.def");
	ASSERT_EQ(kc.ca.len, strlen(PEM_TEXT));
	ASSERT_TRUE(kc.ca.data && !memcmp(kc.ca.data, PEM_TEXT, kc.ca.len));
	ASSERT_TRUE(kc.cert.data && kc.cert.len == strlen(PEM_TEXT));
	ASSERT_TRUE(kc.key.data && kc.key.len == 3 && !memcmp(kc.key.data, "KEY", 3));
	ASSERT_TRUE(!kc.ca.path && !kc.cert.path && !kc.key.path);
	ASSERT_FALSE(kc.insecure);
	kube_config_free(&kc);
}

static const char kc_paths[] =
	"clusters:\n"
	"- name: other\n  cluster:\n    server: https://other:1\n"
	"- name: c1\n  cluster:\n    server: https://[fd00::1]:6443\n    certificate-authority: ca.crt\n"
	"    insecure-skip-tls-verify: true\n"
	"users:\n- name: u1\n  user:\n    client-certificate: /abs/client.crt\n    client-key: keys/client.key\n"
	"- name: u2\n  user:\n    token: t2\n"
	"contexts:\n- name: a\n  context:\n    cluster: other\n    user: u2\n"
	"- name: b\n  context:\n    cluster: c1\n    user: u1\n"
	"current-context: b\n";

static void test_kubeconfig_paths_and_contexts(void)
{
	struct kube_config kc;
	char err[512];

	ASSERT_EQ(kc_parse(&kc, kc_paths, err), 0);
	ASSERT_STREQ(kc.server, "https://[fd00::1]:6443");
	ASSERT_STREQ(kc.ca.path, "/etc/kube/ca.crt");		/* relative to the kubeconfig */
	ASSERT_STREQ(kc.cert.path, "/abs/client.crt");
	ASSERT_STREQ(kc.key.path, "/etc/kube/keys/client.key");
	ASSERT_TRUE(kc.token == NULL);
	ASSERT_TRUE(kc.insecure);
	kube_config_free(&kc);
}

static void expect_kc_error(const char *text, const char *want)
{
	struct kube_config kc;
	char err[512];

	ASSERT_NE(kc_parse(&kc, text, err), 0);
	if (!strstr(err, want))
		TEST_FAIL("error '%s' does not contain '%s'", err, want);
	ASSERT_TRUE(kc.server == NULL);	/* nothing half-filled */
}

static void test_kubeconfig_errors(void)
{
	char text[2048];

	expect_kc_error("clusters: [\n", "test.kubeconfig: YAML error at line");
	expect_kc_error("- a\n- b\n", "not a kubeconfig");
	expect_kc_error("clusters: []\n", "no current-context");
	expect_kc_error("current-context: nope\ncontexts: []\n", "current-context 'nope' not found in contexts");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\n",
			"cluster 'gone' not found in clusters");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n"
			"- name: c\n  cluster: {server: 'ftp://x'}\n", "server 'ftp://x' is not an http(s) URL");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n"
			"- name: c\n  cluster: {insecure-skip-tls-verify: x}\n", "cluster 'c' has no server");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n"
			"- name: c\n  cluster: {server: 'https://a', insecure-skip-tls-verify: maybe}\n",
			"insecure-skip-tls-verify 'maybe' is not true or false");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n"
			"- name: c\n  cluster: {server: 'https://a', certificate-authority-data: 'no!base64'}\n",
			"c: certificate-authority-data is not valid base64");
	snprintf(text, sizeof(text), "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "clusters:\n- name: c\n  cluster: {server: 'https://a'}\nusers:\n- name: u\n  user:\n"
		 "    client-certificate-data: %s\n", b64(PEM_TEXT));
	expect_kc_error(text, "user 'u' has client-certificate without client-key");
	expect_kc_error("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: who}\nclusters:\n"
			"- name: c\n  cluster: {server: 'https://a'}\n", "user 'who' not found in users");
}

static void test_kubeconfig_in_cluster(void)
{
	char dir[] = "/tmp/xwg-test-node.XXXXXX", path[256], err[512];
	struct kube_config kc;
	FILE *f;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (!f)
		return;
	fputs("sa-token\n", f);
	fclose(f);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_EQ(kube_config_in_cluster(&kc, dir, err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::10", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ASSERT_EQ(kube_config_in_cluster(&kc, dir, err, sizeof(err)), 0);
	ASSERT_STREQ(kc.server, "https://[fd00::10]:443");
	ASSERT_STREQ(kc.token, "sa-token");
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ASSERT_STREQ(kc.ca.path, path);
	kube_config_free(&kc);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	ASSERT_EQ(kube_config_in_cluster(&kc, dir, err, sizeof(err)), 0);
	ASSERT_STREQ(kc.server, "https://10.96.0.1:443");
	kube_config_free(&kc);
	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	ASSERT_NE(kube_config_in_cluster(&kc, dir, err, sizeof(err)), 0);
	ASSERT_TRUE(strstr(err, path) != NULL);
	rmdir(dir);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

/* ---- watch lines */

static int ev_parse(const char *line, struct kube_event *ev, char *why)
{
	return kube_event_parse(line, strlen(line), ev, why, 256);
}

static void test_watch_lines(void)
{
	struct kube_event ev;
	char why[256];

	ASSERT_EQ(ev_parse("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\","
			   "\"resourceVersion\":\"12\"}}}", &ev, why), 0);
	ASSERT_EQ(ev.type, KEV_ADDED);
	ASSERT_STREQ(ev.rv, "12");
	kube_event_free(&ev);
	ASSERT_EQ(ev_parse("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"13\"}}}", &ev, why), 0);
	ASSERT_EQ(ev.type, KEV_MODIFIED);
	kube_event_free(&ev);
	ASSERT_EQ(ev_parse("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"n1\"}}}", &ev, why), 0);
	ASSERT_EQ(ev.type, KEV_DELETED);
	ASSERT_STREQ(ev.rv, "");
	kube_event_free(&ev);
	ASSERT_EQ(ev_parse("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"resourceVersion\":\"99\"}}}",
			   &ev, why), 0);
	ASSERT_EQ(ev.type, KEV_BOOKMARK);
	ASSERT_STREQ(ev.rv, "99");
	kube_event_free(&ev);
	ASSERT_EQ(ev_parse("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}",
			   &ev, why), 0);
	ASSERT_EQ(ev.type, KEV_ERROR);
	ASSERT_EQ(ev.code, 410);
	kube_event_free(&ev);
	/* Bad lines: each a clear reason, nothing to free. */
	ASSERT_EQ(ev_parse("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"na", &ev, why), -EINVAL);
	ASSERT_TRUE(strstr(why, "truncated") != NULL);
	ASSERT_TRUE(ev.root == NULL);
	ASSERT_EQ(ev_parse("garbage", &ev, why), -EINVAL);
	ASSERT_EQ(ev_parse("{\"type\":\"ADDED\",\"object\":{}} trailing", &ev, why), -EINVAL);
	ASSERT_EQ(ev_parse("{\"type\":\"EXPLODED\",\"object\":{}}", &ev, why), -EINVAL);
	ASSERT_TRUE(strstr(why, "EXPLODED") != NULL);
	ASSERT_EQ(ev_parse("{\"type\":\"ADDED\"}", &ev, why), -EINVAL);
	ASSERT_EQ(ev_parse("{\"type\":\"ADDED\",\"object\":[1]}", &ev, why), -EINVAL);
	ASSERT_EQ(ev_parse("[]", &ev, why), -EINVAL);
}

/* ---- Nodes and the reconciler, with a recording device */

static char rec[8192];

static void rec_add(const char *fmt, const char *arg)
{
	size_t off = strlen(rec);

	snprintf(rec + off, sizeof(rec) - off, fmt, arg);
}

static int rec_peer_set(void *ctx, const struct node_info *ni)
{
	char ep[80], buf[64];

	endpoint_format(ep, sizeof(ep), (const struct sockaddr *)&ni->ep);
	rec_add("set %s", ni->name);
	rec_add(" %s", ep);
	for (size_t i = 0; i < ni->n_cidrs; i++) {
		prefix_format(buf, sizeof(buf), &ni->cidrs[i]);
		rec_add(" %s", buf);
	}
	rec_add("%s", ";");
	return 0;
}

static int rec_peer_remove(void *ctx, const uint8_t key[32])
{
	char k[64];

	key_to_base64(k, key);
	rec_add("rm %.6s;", k);
	return 0;
}

static int rec_route(void *ctx, const struct xwg_prefix *p, bool add)
{
	char buf[64];

	prefix_format(buf, sizeof(buf), p);
	rec_add(add ? "r+ %s;" : "r- %s;", buf);
	return 0;
}

static int n_logs;
static char last_log[512];

static void rec_log(void *ctx, const char *msg)
{
	n_logs++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static const struct mesh_ops rec_ops = {
	.peer_set = rec_peer_set, .peer_remove = rec_peer_remove, .route = rec_route, .log = rec_log,
};

#define KEY1 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define KEY2 "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA="
#define KEY3 "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA="

/* A Node as JSON: annotations given as raw JSON members (or "" for none). */
static json_object *node_json(const char *name, const char *rv, const char *ann, const char *cidrs, const char *ip)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "{\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%s\","
		 "\"annotations\":{%s}},\"spec\":{%s},\"status\":{\"addresses\":[{\"type\":\"Hostname\","
		 "\"address\":\"%s\"},{\"type\":\"InternalIP\",\"address\":\"%s\"}]}}", name, rv, ann, cidrs, name, ip);
	return json_tokener_parse(buf);
}

static void update(struct mesh *m, const char *name, const char *rv, const char *ann, const char *cidrs)
{
	json_object *o = node_json(name, rv, ann, cidrs, "192.0.2.9");
	struct node_info ni;

	ASSERT_TRUE(o != NULL);
	ASSERT_EQ(node_parse(o, &ni), 0);
	mesh_node_update(m, &ni);
	json_object_put(o);
}

#define ANN(key, ep) "\"xwg.io/public-key\":\"" key "\",\"xwg.io/endpoint\":\"" ep "\""
#define CIDRS(a) "\"podCIDR\":\"" a "\",\"podCIDRs\":[\"" a "\"]"

static void test_node_parse(void)
{
	json_object *o;
	struct node_info ni;

	o = node_json("n1", "5", ANN(KEY1, "[fd00::1]:51820"), "\"podCIDRs\":[\"10.244.1.0/24\",\"fd44:1::/64\"]",
		      "fd00::1");
	ASSERT_EQ(node_parse(o, &ni), 0);
	ASSERT_STREQ(ni.name, "n1");
	ASSERT_STREQ(ni.rv, "5");
	ASSERT_TRUE(ni.has_key);
	ASSERT_TRUE(ni.bad == NULL);
	ASSERT_EQ(ni.n_cidrs, 2);
	ASSERT_EQ(ni.cidrs[1].family, AF_INET6);
	ASSERT_EQ(ni.ep.ss_family, AF_INET6);
	ASSERT_STREQ(ni.internal_ip, "fd00::1");
	json_object_put(o);
	/* The older single podCIDR is the fallback. */
	o = node_json("n2", "6", ANN(KEY2, "192.0.2.2:1"), "\"podCIDR\":\"10.244.2.0/24\"", "192.0.2.2");
	ASSERT_EQ(node_parse(o, &ni), 0);
	ASSERT_EQ(ni.n_cidrs, 1);
	ASSERT_TRUE(ni.bad == NULL);
	json_object_put(o);
	/* No annotation: not a peer, not bad. */
	o = node_json("n3", "7", "", CIDRS("10.244.3.0/24"), "192.0.2.3");
	ASSERT_EQ(node_parse(o, &ni), 0);
	ASSERT_FALSE(ni.has_key);
	ASSERT_TRUE(ni.bad == NULL);
	json_object_put(o);
	/* Each bad field is named, with its value. */
	o = node_json("n4", "8", "\"xwg.io/public-key\":\"" KEY1 "\"", CIDRS("10.244.4.0/24"), "192.0.2.4");
	node_parse(o, &ni);
	ASSERT_TRUE(ni.bad && strstr(ni.bad, "xwg.io/endpoint is missing"));
	json_object_put(o);
	o = node_json("n4", "8", ANN("short", "192.0.2.4:1"), CIDRS("10.244.4.0/24"), "192.0.2.4");
	node_parse(o, &ni);
	ASSERT_TRUE(ni.bad && strstr(ni.bad, "'short' is not a base64 WireGuard key"));
	json_object_put(o);
	o = node_json("n4", "8", ANN(KEY1, "nowhere"), CIDRS("10.244.4.0/24"), "192.0.2.4");
	node_parse(o, &ni);
	ASSERT_TRUE(ni.bad && strstr(ni.bad, "'nowhere' is not ADDRESS:PORT"));
	json_object_put(o);
	o = node_json("n4", "8", ANN(KEY1, "192.0.2.4:1"), "\"podCIDRs\":[\"10.244.999.0/24\"]", "192.0.2.4");
	node_parse(o, &ni);
	ASSERT_TRUE(ni.bad && strstr(ni.bad, "pod CIDR '10.244.999.0/24'"));
	json_object_put(o);
	o = node_json("n4", "8", ANN(KEY1, "192.0.2.4:1"), "", "192.0.2.4");
	node_parse(o, &ni);
	ASSERT_TRUE(ni.bad && strstr(ni.bad, "no spec.podCIDRs"));
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\":{}}");
	ASSERT_EQ(node_parse(o, &ni), -EINVAL);
	json_object_put(o);
}

static void test_mesh_decisions(void)
{
	struct mesh m;

	mesh_init(&m, "self", &rec_ops);
	rec[0] = '\0';
	update(&m, "self", "1", ANN(KEY3, "192.0.2.9:51820"), CIDRS("10.244.9.0/24"));
	ASSERT_STREQ(rec, "");					/* our own node is no peer */
	update(&m, "n1", "1", ANN(KEY1, "192.0.2.1:51820"), CIDRS("10.244.1.0/24"));
	ASSERT_STREQ(rec, "set n1 192.0.2.1:51820 10.244.1.0/24;r+ 10.244.1.0/24;");
	rec[0] = '\0';
	update(&m, "n1", "2", ANN(KEY1, "192.0.2.1:51820"), CIDRS("10.244.1.0/24"));
	ASSERT_STREQ(rec, "");					/* a label changed: nothing to do */
	update(&m, "n1", "3", ANN(KEY1, "192.0.2.11:51820"), CIDRS("10.244.1.0/24"));
	ASSERT_STREQ(rec, "set n1 192.0.2.11:51820 10.244.1.0/24;r+ 10.244.1.0/24;");
	rec[0] = '\0';
	update(&m, "n1", "4", ANN(KEY2, "192.0.2.11:51820"), CIDRS("10.244.1.0/24"));
	ASSERT_STREQ(rec, "rm AAAAAA;set n1 192.0.2.11:51820 10.244.1.0/24;r+ 10.244.1.0/24;");
	ASSERT_TRUE(strstr(last_log, "key changed") != NULL);
	rec[0] = '\0';
	update(&m, "n1", "5", ANN(KEY2, "192.0.2.11:51820"), CIDRS("10.244.7.0/24"));
	ASSERT_STREQ(rec, "set n1 192.0.2.11:51820 10.244.7.0/24;r- 10.244.1.0/24;r+ 10.244.7.0/24;");
	rec[0] = '\0';
	update(&m, "n1", "6", "", CIDRS("10.244.7.0/24"));	/* annotation removed */
	ASSERT_STREQ(rec, "r- 10.244.7.0/24;rm BBBBBB;");
	ASSERT_EQ(m.n_peers, 0);
	rec[0] = '\0';
	update(&m, "n1", "7", ANN(KEY1, "192.0.2.1:51820"), CIDRS("10.244.1.0/24"));
	mesh_node_delete(&m, "n1");
	ASSERT_STREQ(rec, "set n1 192.0.2.1:51820 10.244.1.0/24;r+ 10.244.1.0/24;r- 10.244.1.0/24;rm AAAAAA;");
	rec[0] = '\0';
	mesh_node_delete(&m, "never-seen");
	ASSERT_STREQ(rec, "");
	mesh_free(&m);
}

static void test_mesh_bad_input_is_isolated(void)
{
	struct mesh m;
	int logs;

	mesh_init(&m, "self", &rec_ops);
	update(&m, "n1", "1", ANN(KEY1, "192.0.2.1:51820"), CIDRS("10.244.1.0/24"));
	update(&m, "n2", "1", ANN(KEY2, "192.0.2.2:51820"), CIDRS("10.244.2.0/24"));
	rec[0] = '\0';
	n_logs = 0;
	/* Another node with a malformed key: logged, no change to anyone. */
	update(&m, "n3", "1", ANN("bm90IGEga2V5", "192.0.2.3:51820"), CIDRS("10.244.3.0/24"));
	ASSERT_STREQ(rec, "");
	ASSERT_EQ(n_logs, 1);
	ASSERT_TRUE(strstr(last_log, "node n3 (resourceVersion 1)") != NULL);
	/* The same resourceVersion again (a relist): not logged again; a new one is. */
	update(&m, "n3", "1", ANN("bm90IGEga2V5", "192.0.2.3:51820"), CIDRS("10.244.3.0/24"));
	ASSERT_EQ(n_logs, 1);
	update(&m, "n3", "2", ANN(KEY3, "999.1.1.1:5"), CIDRS("10.244.3.0/24"));
	ASSERT_EQ(n_logs, 2);
	/* A healthy node turning bad keeps its working peer. */
	logs = n_logs;
	update(&m, "n1", "2", ANN(KEY1, "garbage"), CIDRS("10.244.1.0/24"));
	ASSERT_STREQ(rec, "");
	ASSERT_EQ(n_logs, logs + 1);
	ASSERT_EQ(m.n_peers, 2);
	/* ... also across a relist, where only the nodes not listed go. */
	mesh_resync_begin(&m);
	update(&m, "n1", "2", ANN(KEY1, "garbage"), CIDRS("10.244.1.0/24"));
	update(&m, "n3", "2", ANN(KEY3, "999.1.1.1:5"), CIDRS("10.244.3.0/24"));
	mesh_resync_end(&m);
	ASSERT_STREQ(rec, "r- 10.244.2.0/24;rm BBBBBB;");	/* n2 was not in the list */
	ASSERT_EQ(m.n_peers, 1);
	ASSERT_STREQ(m.peers[0].name, "n1");
	mesh_free(&m);
}

static void test_mesh_has(void)
{
	struct mesh m;
	struct xwg_prefix p;
	uint8_t k[32];

	mesh_init(&m, "self", &rec_ops);
	update(&m, "n1", "1", ANN(KEY1, "192.0.2.1:51820"), CIDRS("10.244.1.0/24"));
	key_from_base64(k, KEY1);
	ASSERT_TRUE(mesh_has_key(&m, k));
	key_from_base64(k, KEY2);
	ASSERT_FALSE(mesh_has_key(&m, k));
	prefix_parse(&p, "10.244.1.0/24", false);
	ASSERT_TRUE(mesh_has_cidr(&m, &p));
	prefix_parse(&p, "10.244.1.0/25", false);
	ASSERT_FALSE(mesh_has_cidr(&m, &p));
	mesh_free(&m);
}

static void test_endpoint_format(void)
{
	char buf[80];

	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "192.0.2.1", 51820), 0);
	ASSERT_STREQ(buf, "192.0.2.1:51820");
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "fd00::1", 51820), 0);
	ASSERT_STREQ(buf, "[fd00::1]:51820");
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "2001:db8::10:1", 1), 0);
	ASSERT_STREQ(buf, "[2001:db8::10:1]:1");
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "node1.example", 51820), -EINVAL);
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "", 51820), -EINVAL);
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), "192.0.2.1", 0), -EINVAL);
	ASSERT_EQ(node_endpoint_format(buf, sizeof(buf), NULL, 1), -EINVAL);
}

static void test_first_addr(void)
{
	struct xwg_prefix c, a;
	char buf[64];

	prefix_parse(&c, "10.244.1.0/24", false);
	node_device_first_addr(&c, &a);
	prefix_format(buf, sizeof(buf), &a);
	ASSERT_STREQ(buf, "10.244.1.1/32");
	prefix_parse(&c, "fd44:1::/64", false);
	node_device_first_addr(&c, &a);
	prefix_format(buf, sizeof(buf), &a);
	ASSERT_STREQ(buf, "fd44:1::1/128");
}

/* The watch state machine on lines: resourceVersions kept, 410 relists, bad lines skipped. */
static void test_watch_state(void)
{
	struct node_watch w = { 0 };
	struct mesh m;
	const char *l;

	mesh_init(&m, "self", &rec_ops);
	w.mesh = &m;
	rec[0] = '\0';
	ASSERT_EQ(node_watch_list(&w, "{\"kind\":\"NodeList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
		  "{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"9\",\"annotations\":{" ANN(KEY1, "192.0.2.1:1")
		  "}},\"spec\":{" CIDRS("10.244.1.0/24") "}}]}"), 0);
	ASSERT_STREQ(w.rv, "10");
	ASSERT_TRUE(w.listed_once);
	ASSERT_STREQ(rec, "set n1 192.0.2.1:1 10.244.1.0/24;r+ 10.244.1.0/24;");
	ASSERT_EQ(node_watch_list(&w, "{\"kind\":\"Status\",\"code\":500}"), -EINVAL);
	ASSERT_STREQ(w.rv, "10");
	l = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}";
	ASSERT_EQ(node_watch_line(&w, l, strlen(l)), 0);
	ASSERT_STREQ(w.rv, "15");
	l = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"n1\",\"resourceVe";
	ASSERT_EQ(node_watch_line(&w, l, strlen(l)), 0);	/* truncated: skipped, rv kept */
	ASSERT_STREQ(w.rv, "15");
	rec[0] = '\0';
	l = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"16\"}}}";
	ASSERT_EQ(node_watch_line(&w, l, strlen(l)), 0);
	ASSERT_STREQ(w.rv, "16");
	ASSERT_STREQ(rec, "r- 10.244.1.0/24;rm AAAAAA;");
	l = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"17&x=1\"}}}";
	ASSERT_EQ(node_watch_line(&w, l, strlen(l)), 0);
	ASSERT_STREQ(w.rv, "16");			/* not URL-safe: not taken */
	l = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}";
	ASSERT_EQ(node_watch_line(&w, l, strlen(l)), 1);
	ASSERT_STREQ(w.rv, "");				/* relist */
	mesh_free(&m);
}

int main(void)
{
	RUN_TEST(test_kubeconfig_inline_data);
	RUN_TEST(test_kubeconfig_paths_and_contexts);
	RUN_TEST(test_kubeconfig_errors);
	RUN_TEST(test_kubeconfig_in_cluster);
	RUN_TEST(test_watch_lines);
	RUN_TEST(test_node_parse);
	RUN_TEST(test_mesh_decisions);
	RUN_TEST(test_mesh_bad_input_is_isolated);
	RUN_TEST(test_mesh_has);
	RUN_TEST(test_endpoint_format);
	RUN_TEST(test_first_addr);
	RUN_TEST(test_watch_state);
	return TEST_SUMMARY();
}
