/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzzes the node agent's watch stream: each input line goes through node_watch_line into one mesh. */
#include "fuzz.h"
#include "node_watch.h"

static int ops_peer_set(void *ctx, const struct node_info *ni) { return 0; }
static int ops_peer_remove(void *ctx, const uint8_t key[32]) { return 0; }
static int ops_route(void *ctx, const struct xwg_prefix *p, bool add) { return 0; }
static void ops_log(void *ctx, const char *msg) { }

static const struct mesh_ops fuzz_ops = {
	.peer_set = ops_peer_set, .peer_remove = ops_peer_remove, .route = ops_route, .log = ops_log,
};

/* Lines split on '\n' as the HTTP stream callback would; the first line may also be a NodeList body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_watch w = { 0 };
	struct mesh m;
	char *text = fuzz_strndup(data, size);
	char *line = text, *nl;

	mesh_init(&m, "self", &fuzz_ops);
	w.mesh = &m;
	if (size && data[0] == 'L') {
		node_watch_list(&w, text + 1);
	} else {
		for (; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			if (!nl)
				nl = line + strlen(line) - 1;
			FUZZ_ASSERT(node_watch_line(&w, line, (size_t)(nl - line + 1)) >= 0);
			FUZZ_ASSERT(memchr(w.rv, '\0', sizeof(w.rv)) != NULL);
			if (!nl[1])
				break;
		}
	}
	mesh_free(&m);
	free(text);
	return 0;
}
