/* SPDX-License-Identifier: GPL-2.0 */
/* Keeps the mesh in step with the API server: list, then watch from its resourceVersion, resume or relist. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_http.h"
#include "node_watch.h"

#define WATCH_BACKOFF_MAX_S 30

static const char *const kube_event_names[] = {
	[KEV_ADDED] = "ADDED", [KEV_MODIFIED] = "MODIFIED", [KEV_DELETED] = "DELETED",
	[KEV_BOOKMARK] = "BOOKMARK", [KEV_ERROR] = "ERROR",
};

static json_object *watch_get(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

void kube_event_free(struct kube_event *ev)
{
	if (ev->root)
		json_object_put(ev->root);
	memset(ev, 0, sizeof(*ev));
}

/* A resourceVersion goes into a URL as is: anything but [A-Za-z0-9] is refused rather than escaped. */
static bool watch_rv_ok(const char *rv)
{
	return *rv && strspn(rv, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(rv);
}

int kube_event_parse(const char *line, size_t len, struct kube_event *ev, char *why, size_t whylen)
{
	json_tokener *tok = json_tokener_new();
	json_object *type, *md, *rv;
	const char *t;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	if (!tok) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	ev->root = json_tokener_parse_ex(tok, line, (int)len);
	if (!ev->root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		snprintf(why, whylen, "not one JSON object (%s): '%.60s'",
			 json_tokener_get_error(tok) == json_tokener_continue ? "truncated" :
			 json_tokener_error_desc(json_tokener_get_error(tok)), line);
		json_tokener_free(tok);
		kube_event_free(ev);
		return -EINVAL;
	}
	json_tokener_free(tok);
	type = watch_get(ev->root, "type");
	ev->object = watch_get(ev->root, "object");
	t = type && json_object_is_type(type, json_type_string) ? json_object_get_string(type) : "";
	for (i = 0; i < sizeof(kube_event_names) / sizeof(kube_event_names[0]); i++)
		if (!strcmp(t, kube_event_names[i]))
			break;
	if (i == sizeof(kube_event_names) / sizeof(kube_event_names[0]) || !ev->object ||
	    !json_object_is_type(ev->object, json_type_object)) {
		snprintf(why, whylen, "not a watch event (type '%.20s'): '%.60s'", t, line);
		kube_event_free(ev);
		return -EINVAL;
	}
	ev->type = (enum kube_event_type)i;
	md = watch_get(ev->object, "metadata");
	rv = watch_get(md, "resourceVersion");
	if (rv && json_object_is_type(rv, json_type_string))
		snprintf(ev->rv, sizeof(ev->rv), "%s", json_object_get_string(rv));
	if (ev->type == KEV_ERROR)
		ev->code = json_object_get_int(watch_get(ev->object, "code"));
	return 0;
}

/* A Node from a list or an event: ours goes to the agent, every other to the mesh. */
static void watch_node(struct node_watch *w, json_object *obj, bool deleted)
{
	struct node_info ni;

	if (node_parse(obj, &ni)) {
		fprintf(stderr, "xwg: node-agent: skipping %s\n", ni.why);
		return;
	}
	if (!strcmp(ni.name, w->mesh->self)) {
		if (!deleted && w->self_fn)
			w->self_fn(w->self_ctx, &ni);
		return;
	}
	if (deleted)
		mesh_node_delete(w->mesh, ni.name);
	else
		mesh_node_update(w->mesh, &ni);
}

static void watch_set_rv(struct node_watch *w, const char *rv)
{
	if (watch_rv_ok(rv))
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

int node_watch_line(struct node_watch *w, const char *line, size_t len)
{
	struct kube_event ev;
	char why[256];

	if (kube_event_parse(line, len, &ev, why, sizeof(why))) {
		/* A truncated event is sent again after the resume: its resourceVersion was not taken. */
		fprintf(stderr, "xwg: node-agent: skipping a watch line: %s\n", why);
		return 0;
	}
	switch (ev.type) {
	case KEV_ERROR:
		fprintf(stderr, "xwg: node-agent: watch error %d%s\n", ev.code,
			ev.code == 410 ? " (Gone): listing again" : ": listing again");
		w->rv[0] = '\0';
		kube_event_free(&ev);
		return 1;
	case KEV_BOOKMARK:
		break;
	default:
		watch_node(w, ev.object, ev.type == KEV_DELETED);
		break;
	}
	watch_set_rv(w, ev.rv);
	kube_event_free(&ev);
	return 0;
}

int node_watch_list(struct node_watch *w, const char *body)
{
	json_object *root = json_tokener_parse(body), *items, *md, *rv;

	items = watch_get(root, "items");
	md = watch_get(root, "metadata");
	rv = watch_get(md, "resourceVersion");
	if (!items || !json_object_is_type(items, json_type_array) || !rv ||
	    !watch_rv_ok(json_object_get_string(rv))) {
		if (root)
			json_object_put(root);
		return -EINVAL;
	}
	mesh_resync_begin(w->mesh);
	for (size_t i = 0; i < json_object_array_length(items); i++)
		watch_node(w, json_object_array_get_idx(items, i), false);
	mesh_resync_end(w->mesh);
	watch_set_rv(w, json_object_get_string(rv));
	json_object_put(root);
	w->listed_once = true;
	if (w->listed_fn)
		w->listed_fn(w->self_ctx);
	return 0;
}

static void watch_sleep(struct node_watch *w, unsigned int s)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };

	for (unsigned int i = 0; i < s * 10 && !atomic_load(w->stop); i++)
		nanosleep(&ts, NULL);
}

/* After a failure: wait, then double the next wait up to the cap. */
static void watch_backoff(struct node_watch *w)
{
	if (!w->backoff_s)
		w->backoff_s = 1;
	watch_sleep(w, w->backoff_s);
	w->backoff_s = w->backoff_s * 2 > WATCH_BACKOFF_MAX_S ? WATCH_BACKOFF_MAX_S : w->backoff_s * 2;
}

static int watch_relist(struct node_watch *w)
{
	struct kube_reply r;
	char err[512];
	int ret;

	ret = kube_request(w->kc, "GET", "/api/v1/nodes", NULL, NULL, &r, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "xwg: node-agent: listing nodes: %s\n", err);
		return ret;
	}
	if (r.status != 200) {
		fprintf(stderr, "xwg: node-agent: listing nodes: HTTP %ld: %.200s\n", r.status, r.body);
		ret = -EIO;
	} else if (node_watch_list(w, r.body)) {
		fprintf(stderr, "xwg: node-agent: listing nodes: the reply is not a NodeList\n");
		ret = -EINVAL;
	}
	free(r.body);
	return ret;
}

static int watch_line_cb(void *ctx, const char *line, size_t len)
{
	return node_watch_line(ctx, line, len);
}

/* One watch call from w->rv. 0 when it ended in order (resume), -errno to back off. */
static int watch_once(struct node_watch *w)
{
	char path[256], err[512];
	long status;
	int ret;

	snprintf(path, sizeof(path), "/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld",
		 w->rv, w->timeout_s);
	ret = kube_watch(w->kc, path, watch_line_cb, w, w->stop, w->timeout_s + 30, &status, err, sizeof(err));
	if (ret) {
		/* Dropped: w->rv is the last event applied, the next call resumes there. */
		fprintf(stderr, "xwg: node-agent: watch: %s\n", err);
		return ret;
	}
	if (status == 410) {
		fprintf(stderr, "xwg: node-agent: watch: resourceVersion %s is gone (410): listing again\n", w->rv);
		w->rv[0] = '\0';
		return 0;
	}
	if (status != 200) {
		fprintf(stderr, "xwg: node-agent: watch: HTTP %ld\n", status);
		return -EIO;
	}
	return 0;
}

void node_watch_run(struct node_watch *w)
{
	if (w->timeout_s <= 0)
		w->timeout_s = 300;
	while (!atomic_load(w->stop)) {
		time_t start = time(NULL);
		bool watched = w->rv[0] != '\0';
		int ret;

		ret = watched ? watch_once(w) : watch_relist(w);
		if (ret) {
			watch_backoff(w);
			continue;
		}
		w->backoff_s = 0;
		/* A server that ends every watch at once must not make this a busy loop. */
		if (watched && time(NULL) == start)
			watch_sleep(w, 1);
	}
}
