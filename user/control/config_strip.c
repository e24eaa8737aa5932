/* SPDX-License-Identifier: GPL-2.0 */
/* xwg strip: the part of a configuration file that wg(8) understands, line for line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"

/* [Interface] keys of wg-quick and of xwg that wg setconf would refuse. */
static bool strip_key_dropped(const char *key, size_t len)
{
	static const char *const keys[] = {
		"Address", "DNS", "MTU", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig",
		"Mode", "Underlay",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i]) == len && !strncasecmp(key, keys[i], len))
			return true;
	return false;
}

/* [Peer] keys of xwg's multi-path extension (path.h): wg knows one endpoint per peer. */
static bool strip_peer_key_dropped(const char *key, size_t len)
{
	return (len == 10 && !strncasecmp(key, "PathPolicy", len)) ||
	       (len == 17 && !strncasecmp(key, "PathProbeInterval", len));
}

/*
 * "Endpoint = a:port, b:port" -> "Endpoint = a:port": the first path, which is where the peer
 * starts, as a standard peer has it. False when the value holds one endpoint (line kept as is).
 */
static bool strip_endpoint_list(const char *line, size_t body, FILE *out)
{
	const char *eq = memchr(line, '=', body), *v, *comma;
	size_t vlen;

	if (!eq)
		return false;
	comma = memchr(eq, ',', (size_t)(line + body - eq));
	if (!comma)
		return false;
	for (v = eq + 1; v < comma && isspace((unsigned char)*v); v++)
		;
	for (vlen = (size_t)(comma - v); vlen && isspace((unsigned char)v[vlen - 1]); vlen--)
		;
	fprintf(out, "%.*s= %.*s\n", (int)(eq - line), line, (int)vlen, v);
	return true;
}

/* The key of "  Key = value # comment" (start and length), as the parser splits it; len 0 if none. */
static const char *strip_line_key(const char *line, size_t end, size_t *len)
{
	const char *eq = memchr(line, '=', end), *key = line;

	*len = 0;
	if (!eq)
		return NULL;
	while (key < eq && isspace((unsigned char)*key))
		key++;
	*len = (size_t)(eq - key);
	while (*len && isspace((unsigned char)key[*len - 1]))
		(*len)--;
	return key;
}

/* Writes the kept lines of text, which config_parse_string already accepted. */
static void strip_text(const char *text, FILE *out)
{
	bool in_interface = false, in_peer = false;
	const char *line, *nl;

	for (line = text; *line; line = nl ? nl + 1 : line + strlen(line)) {
		size_t len, body, klen;
		const char *key, *p;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		body = strcspn(line, "#\n");
		for (p = line; p < line + body && isspace((unsigned char)*p); p++)
			;
		if (p < line + body && *p == '[') {
			in_interface = !strncasecmp(p, "[Interface]", 11);
			in_peer = !strncasecmp(p, "[Peer]", 6);
		}
		key = strip_line_key(line, body, &klen);
		if (in_interface && key && strip_key_dropped(key, klen))
			continue;
		if (in_peer && key && strip_peer_key_dropped(key, klen))
			continue;
		if (in_peer && key && klen == 8 && !strncasecmp(key, "Endpoint", 8) && strip_endpoint_list(line, body, out))
			continue;
		fprintf(out, "%.*s\n", (int)len, line);
	}
}

int config_strip(const char *path, FILE *out, char *err, size_t errlen)
{
	struct xwg_config cfg;
	char *text = NULL;
	int ret;

	ret = config_parse_file(&cfg, path, err, errlen);
	if (ret)
		return ret;
	config_free(&cfg);
	ret = config_read_file(path, &text);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	strip_text(text, out);
	config_wipe_free(text, strlen(text));
	return 0;
}
