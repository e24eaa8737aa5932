/* SPDX-License-Identifier: GPL-2.0 */
/* List + watch of Nodes with resourceVersion: events in, mesh updates out, never giving up. */
#ifndef XWG_NODE_WATCH_H
#define XWG_NODE_WATCH_H

#include <json-c/json.h>
#include <stdatomic.h>

#include "kube_config.h"
#include "node_mesh.h"

enum kube_event_type { KEV_ADDED, KEV_MODIFIED, KEV_DELETED, KEV_BOOKMARK, KEV_ERROR };

struct kube_event {
	enum kube_event_type type;
	json_object *root;		/* owns object */
	json_object *object;
	char rv[64];			/* object.metadata.resourceVersion ("" when none) */
	int code;			/* ERROR: the Status object's code */
};

/* One line of a watch stream. 0, or -EINVAL with why (garbage, truncated, unknown type). */
int kube_event_parse(const char *line, size_t len, struct kube_event *ev, char *why, size_t whylen);
void kube_event_free(struct kube_event *ev);

/* Our own Node as the API server shows it (every list and event for it). */
typedef void (*node_self_fn)(void *ctx, const struct node_info *ni);

struct node_watch {
	const struct kube_config *kc;
	struct mesh *mesh;
	node_self_fn self_fn;
	void *self_ctx;
	const atomic_bool *stop;
	long timeout_s;			/* timeoutSeconds of each watch call */
	char rv[64];			/* where the next watch resumes; "" = relist */
	unsigned int backoff_s;
	bool listed_once;		/* for the caller: the mesh has seen a full list */
	void (*listed_fn)(void *ctx);	/* after each full list */
};

/* Until *stop: list, watch, resume, relist; errors only delay (backoff up to 30 s). */
void node_watch_run(struct node_watch *w);

/* One watch line applied (the stream callback, exposed for tests): 0 to go on, 1 to relist. */
int node_watch_line(struct node_watch *w, const char *line, size_t len);

/* A list reply body applied as a relist. 0, or -EINVAL when it is not a NodeList. */
int node_watch_list(struct node_watch *w, const char *body);

#endif
