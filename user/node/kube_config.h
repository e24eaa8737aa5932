/* SPDX-License-Identifier: GPL-2.0 */
/* Where the Kubernetes API server is and how to authenticate to it: in-cluster or from a kubeconfig. */
#ifndef XWG_KUBE_CONFIG_H
#define XWG_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* The default service-account directory of a pod. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* PEM held in memory (a kubeconfig's *-data field, decoded) or named by a file path. */
struct kube_pem {
	char *data;		/* NULL: not in memory */
	size_t len;
	char *path;		/* NULL: no file */
};

struct kube_config {
	char *server;		/* "https://10.0.0.1:6443", no trailing slash */
	char *token;		/* bearer token, or NULL */
	struct kube_pem ca, cert, key;
	bool insecure;		/* insecure-skip-tls-verify: true */
};

/*
 * In-cluster: KUBERNETES_SERVICE_HOST/_PORT, sa_dir's token and ca.crt (sa_dir NULL: KUBE_SA_DIR).
 * 0, or -errno with a message in err naming what is missing.
 */
int kube_config_in_cluster(struct kube_config *kc, const char *sa_dir, char *err, size_t errlen);

/* A kubeconfig file: its current-context's cluster and user. 0, or -errno with a message in err. */
int kube_config_load(struct kube_config *kc, const char *path, char *err, size_t errlen);

/* The same from text; relative file paths are taken from base_dir ("" or NULL: as given). */
int kube_config_parse(struct kube_config *kc, const char *text, size_t len, const char *base_dir,
		      const char *name, char *err, size_t errlen);

void kube_config_free(struct kube_config *kc);

#endif
