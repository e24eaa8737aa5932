/* SPDX-License-Identifier: GPL-2.0 */
/* Reads the API server's address and credentials: the pod's service account, or a kubeconfig through libyaml. */
#include <errno.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kube_config.h"

/* A kubeconfig or a token is small; a huge file is a mistake, not a configuration. */
#define KUBE_FILE_MAX (4 << 20)

static int kube_read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t n = 0, cap = 4096;
	char *buf;
	int ret = 0;

	if (!f)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (n < cap) {
			if (ferror(f))
				ret = -EIO;
			break;
		}
		if (cap >= KUBE_FILE_MAX) {
			ret = -EFBIG;
			break;
		}
		cap *= 2;
		char *nb = realloc(buf, cap + 1);
		if (!nb) {
			ret = -ENOMEM;
			break;
		}
		buf = nb;
	}
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

/* A token file ends in a newline that is not part of the token. */
static void kube_chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

void kube_config_free(struct kube_config *kc)
{
	struct kube_pem *pems[] = { &kc->ca, &kc->cert, &kc->key };

	free(kc->server);
	if (kc->token)
		memset(kc->token, 0, strlen(kc->token));
	free(kc->token);
	for (size_t i = 0; i < 3; i++) {
		if (pems[i]->data)
			memset(pems[i]->data, 0, pems[i]->len);	/* the client key */
		free(pems[i]->data);
		free(pems[i]->path);
	}
	memset(kc, 0, sizeof(*kc));
}

int kube_config_in_cluster(struct kube_config *kc, const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[4096];
	int ret;

	memset(kc, 0, sizeof(*kc));
	if (!sa_dir)
		sa_dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen, "not in a cluster (KUBERNETES_SERVICE_HOST/_PORT unset) and no --kubeconfig");
		return -ENOENT;
	}
	/* An IPv6 service address goes in brackets in a URL. */
	if (asprintf(&kc->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
		kc->server = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	ret = kube_read_file(path, &kc->token, NULL);
	if (ret) {
		snprintf(err, errlen, "cannot read the service-account token %s: %s", path, strerror(-ret));
		goto err;
	}
	kube_chomp(kc->token);
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	kc->ca.path = strdup(path);
	if (!kc->ca.path) {
		ret = -ENOMEM;
		goto err;
	}
	return 0;
err:
	kube_config_free(kc);
	return ret;
}

/* ---- kubeconfig (libyaml's document API: the file is small, a tree is simplest) */

struct kube_doc {
	yaml_document_t doc;
	const char *name;	/* for messages */
	const char *base_dir;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int kube_bad(struct kube_doc *d, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(d->err, d->errlen, "%s: %s", d->name, what);
	return -EINVAL;
}

static const char *kube_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value under key in a mapping, or NULL. */
static yaml_node_t *kube_get(struct kube_doc *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = kube_scalar(yaml_document_get_node(&d->doc, p->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(&d->doc, p->value);
	}
	return NULL;
}

static const char *kube_get_str(struct kube_doc *d, yaml_node_t *map, const char *key)
{
	const char *s = kube_scalar(kube_get(d, map, key));

	return s && *s ? s : NULL;
}

/* clusters/users/contexts: the entry's inner mapping (cluster/user/context) of the item named name. */
static yaml_node_t *kube_named(struct kube_doc *d, const char *list, const char *inner, const char *name)
{
	yaml_node_t *seq = kube_get(d, yaml_document_get_root_node(&d->doc), list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(&d->doc, *it);
		const char *n = kube_get_str(d, item, "name");

		if (n && !strcmp(n, name))
			return kube_get(d, item, inner);
	}
	return NULL;
}

/* Standard base64 with optional whitespace (PEM wrapped into YAML); -EINVAL when it is not. */
static int kube_base64(const char *in, char **out, size_t *outlen)
{
	size_t n = 0, len = strlen(in), pad = 0;
	char *clean = malloc(len + 1);
	unsigned char *buf;
	int got;

	if (!clean)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", in[i]))
			clean[n++] = in[i];
	clean[n] = '\0';
	if (!n || n % 4 || strspn(clean, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n) {
		free(clean);
		return -EINVAL;
	}
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	buf = malloc(n / 4 * 3 + 1);
	if (!buf) {
		free(clean);
		return -ENOMEM;
	}
	got = EVP_DecodeBlock(buf, (unsigned char *)clean, (int)n);
	free(clean);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		return -EINVAL;
	}
	*outlen = (size_t)got - pad;
	buf[*outlen] = '\0';
	*out = (char *)buf;
	return 0;
}

/* One of certificate-authority, client-certificate, client-key: inline -data wins over a path. */
static int kube_pem_read(struct kube_doc *d, yaml_node_t *map, const char *where, const char *key,
			 struct kube_pem *pem)
{
	char datakey[64];
	const char *s;
	int ret;

	snprintf(datakey, sizeof(datakey), "%s-data", key);
	s = kube_get_str(d, map, datakey);
	if (s) {
		ret = kube_base64(s, &pem->data, &pem->len);
		if (ret == -EINVAL)
			return kube_bad(d, "%s: %s is not valid base64", where, datakey);
		return ret;
	}
	s = kube_get_str(d, map, key);
	if (!s)
		return 0;
	if (s[0] != '/' && d->base_dir && *d->base_dir)
		ret = asprintf(&pem->path, "%s/%s", d->base_dir, s);
	else
		ret = asprintf(&pem->path, "%s", s);
	if (ret < 0) {
		pem->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int kube_cluster(struct kube_doc *d, struct kube_config *kc, const char *name)
{
	yaml_node_t *c = kube_named(d, "clusters", "cluster", name);
	const char *server, *insecure;
	size_t n;
	int ret;

	if (!c)
		return kube_bad(d, "cluster '%s' not found in clusters", name);
	server = kube_get_str(d, c, "server");
	if (!server)
		return kube_bad(d, "cluster '%s' has no server", name);
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return kube_bad(d, "cluster '%s': server '%s' is not an http(s) URL", name, server);
	kc->server = strdup(server);
	if (!kc->server)
		return -ENOMEM;
	n = strlen(kc->server);
	while (n > 8 && kc->server[n - 1] == '/')
		kc->server[--n] = '\0';
	insecure = kube_get_str(d, c, "insecure-skip-tls-verify");
	if (insecure && strcmp(insecure, "true") && strcmp(insecure, "false"))
		return kube_bad(d, "cluster '%s': insecure-skip-tls-verify '%s' is not true or false", name, insecure);
	kc->insecure = insecure && !strcmp(insecure, "true");
	ret = kube_pem_read(d, c, name, "certificate-authority", &kc->ca);
	return ret;
}

static int kube_user(struct kube_doc *d, struct kube_config *kc, const char *name)
{
	yaml_node_t *u = kube_named(d, "users", "user", name);
	const char *token;
	int ret;

	if (!u)
		return kube_bad(d, "user '%s' not found in users", name);
	token = kube_get_str(d, u, "token");
	if (token) {
		kc->token = strdup(token);
		if (!kc->token)
			return -ENOMEM;
	}
	ret = kube_pem_read(d, u, name, "client-certificate", &kc->cert);
	if (!ret)
		ret = kube_pem_read(d, u, name, "client-key", &kc->key);
	if (ret)
		return ret;
	if (!kc->cert.data && !kc->cert.path) {
		if (kc->key.data || kc->key.path)
			return kube_bad(d, "user '%s' has client-key without client-certificate", name);
	} else if (!kc->key.data && !kc->key.path) {
		return kube_bad(d, "user '%s' has client-certificate without client-key", name);
	}
	return 0;
}

static int kube_context(struct kube_doc *d, struct kube_config *kc)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc), *ctx;
	const char *cur, *cluster, *user;
	int ret;

	if (!root || root->type != YAML_MAPPING_NODE)
		return kube_bad(d, "not a kubeconfig (no mapping at the top)");
	cur = kube_get_str(d, root, "current-context");
	if (!cur)
		return kube_bad(d, "no current-context");
	ctx = kube_named(d, "contexts", "context", cur);
	if (!ctx)
		return kube_bad(d, "current-context '%s' not found in contexts", cur);
	cluster = kube_get_str(d, ctx, "cluster");
	if (!cluster)
		return kube_bad(d, "context '%s' has no cluster", cur);
	ret = kube_cluster(d, kc, cluster);
	if (ret)
		return ret;
	user = kube_get_str(d, ctx, "user");
	return user ? kube_user(d, kc, user) : 0;
}

int kube_config_parse(struct kube_config *kc, const char *text, size_t len, const char *base_dir,
		      const char *name, char *err, size_t errlen)
{
	struct kube_doc d = { .name = name ? name : "kubeconfig", .base_dir = base_dir, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	int ret;

	memset(kc, 0, sizeof(*kc));
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &d.doc)) {
		ret = kube_bad(&d, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
			       parser.problem ? parser.problem : "unknown");
		yaml_parser_delete(&parser);
		return ret;
	}
	ret = kube_context(&d, kc);
	yaml_document_delete(&d.doc);
	yaml_parser_delete(&parser);
	if (ret)
		kube_config_free(kc);
	return ret;
}

int kube_config_load(struct kube_config *kc, const char *path, char *err, size_t errlen)
{
	char *text, *dir, *slash;
	size_t len;
	int ret;

	memset(kc, 0, sizeof(*kc));
	ret = kube_read_file(path, &text, &len);
	if (ret) {
		snprintf(err, errlen, "cannot read kubeconfig %s: %s", path, strerror(-ret));
		return ret;
	}
	/* kubectl resolves relative certificate paths against the kubeconfig's directory. */
	dir = strdup(path);
	if (!dir) {
		free(text);
		return -ENOMEM;
	}
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	ret = kube_config_parse(kc, text, len, slash && !dir[0] ? "/" : dir, path, err, errlen);
	free(dir);
	memset(text, 0, len);
	free(text);
	return ret;
}
