/* SPDX-License-Identifier: GPL-2.0 */
/* Parses the wg-quick INI file format ([Interface], [Peer]) into struct xwg_config. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "path.h"
#include "crypto.h"

/* A config bigger than this is a mistake (or not a config); it still allows tens of thousands of peers. */
#define CONFIG_MAX_BYTES (64u << 20)

enum config_section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER };

struct config_parser {
	struct xwg_config *cfg;
	const char *label;		/* file name used in messages */
	int line;
	enum config_section section;
	struct xwg_config_peer *peer;	/* the [Peer] being filled */
	struct xwg_config_peer **tail;
	int peer_line;			/* line of its [Peer] header */
	bool peer_has_key;
	char *err;
	size_t errlen;
};

/* Always returns -EINVAL so callers can write "return config_error(...)". */
__attribute__((format(printf, 2, 3)))
static int config_error(struct config_parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s:%d: %s", p->label, p->line, msg);
	return -EINVAL;
}

static int config_parse_fwmark(const char *s, uint32_t *out)
{
	uint64_t v;
	char *end;

	if (!strcasecmp(s, "off")) {
		*out = 0;
		return 0;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]) || strlen(s + 2) > 8)
			return -EINVAL;
		errno = 0;
		v = strtoul(s + 2, &end, 16);
		if (*end || errno)
			return -EINVAL;
	} else if (uint_parse(s, UINT32_MAX, &v)) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/*
 * Appends each comma-separated prefix of a list value to *arr. An empty value is an empty list
 * (wg accepts "AllowedIPs =" too), but an empty element inside a list is a typo.
 */
static int config_parse_list(struct config_parser *p, const char *key, char *value,
			     struct xwg_prefix **arr, size_t *n, bool keep_host)
{
	char *save = NULL, *tok;
	struct xwg_prefix pfx, *grown;

	if (!*value)
		return 0;
	if (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,"))
		return config_error(p, "empty element in %s", key);
	for (tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = text_trim(tok);
		if (!*tok)
			return config_error(p, "empty element in %s", key);
		if (prefix_parse(&pfx, tok, keep_host))
			return config_error(p, "invalid %s '%s'", key, tok);
		grown = realloc(*arr, (*n + 1) * sizeof(**arr));
		if (!grown)
			return -ENOMEM;
		*arr = grown;
		(*arr)[(*n)++] = pfx;
	}
	return 0;
}

const char *const config_hook_names[XWG_HOOK_MAX] = {
	[XWG_HOOK_PRE_UP] = "PreUp", [XWG_HOOK_POST_UP] = "PostUp",
	[XWG_HOOK_PRE_DOWN] = "PreDown", [XWG_HOOK_POST_DOWN] = "PostDown",
};

static int config_push_string(char ***arr, size_t *n, const char *s)
{
	char **grown = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!grown)
		return -ENOMEM;
	*arr = grown;
	grown[*n] = strdup(s);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/*
 * A search domain goes to resolvconf or resolvectl as one argument: letters, digits, '-', '_' and
 * dots, as DNS names are, and no more than a name's 253 characters.
 */
static bool config_domain_valid(const char *s)
{
	size_t len = strlen(s);

	return len && len <= 253 && s[0] != '-' && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

/* DNS = 10.0.0.1, fd00::1, corp.example: addresses are servers, the rest search domains (wg-quick's rule). */
static int config_parse_dns(struct config_parser *p, char *value)
{
	struct xwg_config *cfg = p->cfg;
	struct xwg_prefix pfx, *grown;
	char *save = NULL, *tok;

	if (value[0] == ',' || (*value && value[strlen(value) - 1] == ',') || strstr(value, ",,"))
		return config_error(p, "empty element in DNS");
	for (tok = strtok_r(value, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		/* wg-quick takes digits-and-dots and anything with a colon as an address. */
		if (strspn(tok, "0123456789.") == strlen(tok) || strchr(tok, ':')) {
			if (strchr(tok, '/') || prefix_parse(&pfx, tok, true))
				return config_error(p, "invalid DNS server '%s'", tok);
			grown = realloc(cfg->dns, (cfg->n_dns + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			cfg->dns = grown;
			grown[cfg->n_dns++] = pfx;
		} else if (!config_domain_valid(tok)) {
			return config_error(p, "invalid DNS search domain '%s'", tok);
		} else if (config_push_string(&cfg->dns_search, &cfg->n_dns_search, tok)) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Table = auto | off | main | N: where the routes for the allowed IPs go. */
static int config_parse_table(struct config_parser *p, const char *value)
{
	struct xwg_config *cfg = p->cfg;
	uint64_t v;

	cfg->has_table = true;
	if (!strcasecmp(value, "auto")) {
		cfg->table_mode = XWG_TABLE_AUTO;
	} else if (!strcasecmp(value, "off")) {
		cfg->table_mode = XWG_TABLE_OFF;
	} else if (!strcasecmp(value, "main")) {
		cfg->table_mode = XWG_TABLE_ID;
		cfg->table = 254;	/* RT_TABLE_MAIN */
	} else if (!uint_parse(value, UINT32_MAX, &v) && v) {
		cfg->table_mode = XWG_TABLE_ID;
		cfg->table = (uint32_t)v;
	} else {
		return config_error(p, "invalid Table '%s' (auto, off, main or a table number)", value);
	}
	return 0;
}

/* wg-quick's keys: everything that is not wg(8)'s and that xwg up applies itself. */
static int config_quick_key(struct config_parser *p, const char *key, char *value, bool *known)
{
	struct xwg_config *cfg = p->cfg;

	*known = true;
	if (!strcasecmp(key, "DNS"))
		return config_parse_dns(p, value);
	if (!strcasecmp(key, "Table"))
		return config_parse_table(p, value);
	if (!strcasecmp(key, "SaveConfig")) {
		/* wg-quick's read_bool: exactly these two words. */
		if (strcasecmp(value, "true") && strcasecmp(value, "false"))
			return config_error(p, "invalid SaveConfig '%s' (true or false)", value);
		cfg->save_config = !strcasecmp(value, "true");
		return 0;
	}
	for (int h = 0; h < XWG_HOOK_MAX; h++)
		if (!strcasecmp(key, config_hook_names[h]))
			return config_push_string(&cfg->hooks[h], &cfg->n_hooks[h], value);
	*known = false;
	return 0;
}

/* Underlay = IF, IF: interface names appended to cfg->underlay as "IF,IF"; a bad name is an error. */
static int config_parse_underlay(struct config_parser *p, char *value)
{
	struct xwg_config *cfg = p->cfg;
	char *name;

	while ((name = strsep(&value, ","))) {
		size_t off = strlen(cfg->underlay);

		name += strspn(name, " \t");
		name[strcspn(name, " \t")] = '\0';
		if (!*name)
			return config_error(p, "empty element in Underlay");
		if (strlen(name) >= 16 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
			return config_error(p, "invalid Underlay interface name '%s'", name);
		if (off + strlen(name) + 2 > sizeof(cfg->underlay))
			return config_error(p, "too many Underlay interfaces");
		snprintf(cfg->underlay + off, sizeof(cfg->underlay) - off, "%s%s", off ? "," : "", name);
	}
	return 0;
}

static int config_interface_key(struct config_parser *p, const char *key, char *value)
{
	struct xwg_config *cfg = p->cfg;
	uint64_t v;

	if (!strcasecmp(key, "PrivateKey")) {
		if (key_from_base64(cfg->private_key, value))
			return config_error(p, "invalid PrivateKey");
		cfg->has_private_key = true;
	} else if (!strcasecmp(key, "ListenPort")) {
		if (uint_parse(value, 65535, &v))
			return config_error(p, "invalid ListenPort '%s'", value);
		cfg->listen_port = (uint16_t)v;
		cfg->has_listen_port = true;
	} else if (!strcasecmp(key, "FwMark")) {
		if (config_parse_fwmark(value, &cfg->fwmark))
			return config_error(p, "invalid FwMark '%s'", value);
	} else if (!strcasecmp(key, "Address")) {
		return config_parse_list(p, "Address", value, &cfg->addresses, &cfg->n_addresses, true);
	} else if (!strcasecmp(key, "MTU")) {
		/* 68 is the smallest MTU IPv4 allows and the kernel accepts on a TUN. */
		if (uint_parse(value, 65535, &v) || v < 68)
			return config_error(p, "invalid MTU '%s' (68..65535)", value);
		cfg->mtu = (int)v;
	} else if (!strcasecmp(key, "Mode")) {
		static const char *const modes[] = { "auto", "xdp", "xdp-generic", "tc", "tun" };
		size_t i;

		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcasecmp(value, modes[i]))
				break;
		if (i == sizeof(modes) / sizeof(modes[0]))
			return config_error(p, "invalid Mode '%s' (auto, xdp, xdp-generic, tc or tun)", value);
		snprintf(cfg->mode, sizeof(cfg->mode), "%s", modes[i]);
	} else if (!strcasecmp(key, "Underlay")) {
		return config_parse_underlay(p, value);
	} else {
		bool known;
		int ret = config_quick_key(p, key, value, &known);

		if (!known)
			return config_error(p, "unknown key '%s'", key);
		return ret;
	}
	return 0;
}

/* One endpoint of an Endpoint value into out; a name is resolved now. */
static int config_endpoint_one(struct config_parser *p, struct sockaddr_storage *out, const char *value)
{
	int ret = endpoint_parse(out, value, true);

	if (ret == -EHOSTUNREACH)
		return config_error(p, "cannot resolve Endpoint '%s'", value);
	if (ret)
		return config_error(p, "invalid Endpoint '%s'", value);
	return 0;
}

/*
 * Endpoint = host:port, or (xwg) a comma-separated list of up to XWG_CONFIG_MAX_ENDPOINTS: the
 * peer's paths in order of preference. Only a single name is looked up again later (reresolve.h).
 */
static int config_endpoints(struct config_parser *p, char *value)
{
	struct xwg_config_peer *peer = p->peer;
	struct sockaddr_storage literal;
	char *save = NULL, *tok;
	size_t n = 0;
	int ret;

	if (!*value || value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,"))
		return config_error(p, "empty element in Endpoint '%s'", value);
	peer->n_more_endpoints = 0;
	peer->endpoint_host[0] = '\0';
	for (tok = strtok_r(value, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		tok = text_trim(tok);
		if (n == XWG_CONFIG_MAX_ENDPOINTS)
			return config_error(p, "more than %d endpoints in Endpoint (at '%s')", XWG_CONFIG_MAX_ENDPOINTS,
					    tok);
		ret = config_endpoint_one(p, n ? &peer->more_endpoints[n - 1] : &peer->endpoint, tok);
		if (ret)
			return ret;
		if (n)
			peer->n_more_endpoints = n;
		/* A name (no literal address) is kept: the agent looks it up again when handshakes fail. */
		if (!n && endpoint_parse(&literal, tok, false)) {
			size_t hlen = (size_t)(strrchr(tok, ':') - tok);	/* parsed: "host:port", hlen < 256 */

			memcpy(peer->endpoint_host, tok, hlen);
			peer->endpoint_host[hlen] = '\0';
		}
	}
	peer->has_endpoint = true;
	if (peer->n_more_endpoints)
		peer->endpoint_host[0] = '\0';
	return 0;
}

static int config_peer_key(struct config_parser *p, const char *key, char *value)
{
	struct xwg_config_peer *peer = p->peer;
	uint64_t v;

	if (!strcasecmp(key, "PublicKey")) {
		uint8_t pub[32];

		if (key_from_base64(pub, value))
			return config_error(p, "invalid PublicKey");
		if (p->peer_has_key)
			return config_error(p, "PublicKey given twice in one [Peer]");
		for (struct xwg_config_peer *o = p->cfg->peers; o != peer; o = o->next)
			if (!memcmp(o->public_key, pub, sizeof(pub)))
				return config_error(p, "duplicate peer PublicKey");
		memcpy(peer->public_key, pub, sizeof(pub));
		p->peer_has_key = true;
	} else if (!strcasecmp(key, "PresharedKey")) {
		if (key_from_base64(peer->preshared_key, value))
			return config_error(p, "invalid PresharedKey");
		peer->has_preshared_key = true;
	} else if (!strcasecmp(key, "AllowedIPs")) {
		return config_parse_list(p, "AllowedIPs", value, &peer->allowed_ips, &peer->n_allowed_ips, false);
	} else if (!strcasecmp(key, "Endpoint")) {
		return config_endpoints(p, value);
	} else if (!strcasecmp(key, "PathPolicy")) {
		enum path_policy policy;

		if (path_policy_parse(value, &policy))
			return config_error(p, "invalid PathPolicy '%s' (failover or lowest-rtt)", value);
		peer->path_policy = (uint8_t)policy;
		peer->has_path_policy = true;
	} else if (!strcasecmp(key, "PathProbeInterval")) {
		if (uint_parse(value, 3600, &v) || !v)
			return config_error(p, "invalid PathProbeInterval '%s' (1 to 3600 seconds)", value);
		peer->path_probe_interval = (uint16_t)v;
	} else if (!strcasecmp(key, "PersistentKeepalive")) {
		if (!strcasecmp(value, "off"))
			v = 0;
		else if (uint_parse(value, 65535, &v))
			return config_error(p, "invalid PersistentKeepalive '%s'", value);
		peer->persistent_keepalive = (uint16_t)v;
	} else {
		return config_error(p, "unknown key '%s'", key);
	}
	return 0;
}

/* A [Peer] is checked when the next section starts or the file ends, so the error names its header. */
static int config_finish_peer(struct config_parser *p)
{
	if (p->section != SECTION_PEER)
		return 0;
	if (!p->peer_has_key) {
		p->line = p->peer_line;
		return config_error(p, "[Peer] without PublicKey");
	}
	return 0;
}

static int config_section(struct config_parser *p, char *line)
{
	size_t len = strlen(line);
	char *name;
	int ret;

	if (line[len - 1] != ']')
		return config_error(p, "malformed section header '%s'", line);
	line[len - 1] = '\0';
	name = text_trim(line + 1);
	ret = config_finish_peer(p);
	if (ret)
		return ret;
	if (!strcasecmp(name, "Interface")) {
		p->section = SECTION_INTERFACE;
		return 0;
	}
	if (strcasecmp(name, "Peer"))
		return config_error(p, "unknown section '[%s]'", name);

	p->peer = calloc(1, sizeof(*p->peer));
	if (!p->peer)
		return -ENOMEM;
	/* Linked at once so config_free() releases it whatever fails next. */
	*p->tail = p->peer;
	p->tail = &p->peer->next;
	p->cfg->n_peers++;
	p->section = SECTION_PEER;
	p->peer_line = p->line;
	p->peer_has_key = false;
	return 0;
}

/* Key names are short words; anything else (a pasted base64 key, say) is not echoed back. */
static bool config_key_valid(const char *key)
{
	size_t len = strlen(key);

	if (len > 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)key[i]))
			return false;
	return true;
}

static int config_line(struct config_parser *p, char *line)
{
	char *eq, *key, *value;

	line[strcspn(line, "#")] = '\0';
	line = text_trim(line);
	if (!*line)
		return 0;
	if (*line == '[')
		return config_section(p, line);

	/* The line is not echoed: it may be a key pasted without "PrivateKey =". */
	eq = strchr(line, '=');
	if (!eq)
		return config_error(p, "expected 'Key = Value'");
	*eq = '\0';
	key = text_trim(line);
	value = text_trim(eq + 1);
	if (!*key)
		return config_error(p, "missing key before '='");
	if (!config_key_valid(key))
		return config_error(p, "expected 'Key = Value'");
	switch (p->section) {
	case SECTION_INTERFACE:
		return config_interface_key(p, key, value);
	case SECTION_PEER:
		return config_peer_key(p, key, value);
	default:
		return config_error(p, "key '%s' outside a section", key);
	}
}

/* The text held the private key. */
void config_wipe_free(char *s, size_t len)
{
	crypto_zero(s, len);
	free(s);
}

/* wg-quick's rule: the interface name is the file's base name without ".conf", [a-zA-Z0-9_=+.-]{1,15}. */
static int config_ifname(char ifname[16], const char *label)
{
	size_t len = strlen(label);

	if (len >= 5 && !strcmp(label + len - 5, ".conf"))
		len -= 5;
	if (len < 1 || len > 15)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)label[i]) && !strchr("_=+.-", label[i]))
			return -EINVAL;
	memcpy(ifname, label, len);
	ifname[len] = '\0';
	return 0;
}

/*
 * name is a file name (directory and ".conf" are stripped to get the interface name), or simply
 * the interface name; messages start with its base name.
 */
int config_parse_string(struct xwg_config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	struct config_parser p = {
		.cfg = cfg, .tail = &cfg->peers, .err = err, .errlen = errlen,
	};
	const char *slash = strrchr(name, '/');
	size_t len = strlen(text);
	char *buf, *line, *next;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	p.label = slash ? slash + 1 : name;
	if (config_ifname(cfg->ifname, p.label)) {
		if (err && errlen)
			snprintf(err, errlen, "%s: not a valid interface name (1-15 of [a-zA-Z0-9_=+.-], then .conf)",
				 p.label);
		return -EINVAL;
	}
	buf = malloc(len + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto err_nomem;
	}
	memcpy(buf, text, len + 1);
	for (line = buf; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		ret = config_line(&p, line);
		if (ret)
			goto err_parse;
	}
	ret = config_finish_peer(&p);
	if (ret)
		goto err_parse;
	config_wipe_free(buf, len);
	return 0;

err_parse:
	config_wipe_free(buf, len);
err_nomem:
	if (ret == -ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: out of memory", p.label);
	config_free(cfg);
	return ret;
}

int config_read_file(const char *path, char **out)
{
	size_t len = 0, cap = 4096, got;
	char *buf = malloc(cap), *grown;
	FILE *f;
	int ret;

	if (!buf)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto err_free;
	}
	/* Unbuffered: stdio would keep the key in a buffer of its own and free it unwiped. */
	setvbuf(f, NULL, _IONBF, 0);
	while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (len + 1 < cap)
			continue;
		if (cap >= CONFIG_MAX_BYTES) {
			ret = -EFBIG;
			goto err_close;
		}
		/* Not realloc(): it would free the old copy without wiping it. */
		grown = malloc(cap * 2);
		if (!grown) {
			ret = -ENOMEM;
			goto err_close;
		}
		memcpy(grown, buf, len);
		config_wipe_free(buf, len);
		buf = grown;
		cap *= 2;
	}
	if (ferror(f)) {
		ret = -EIO;
		goto err_close;
	}
	fclose(f);
	buf[len] = '\0';
	/* A NUL would silently end the text early: this is not a config file. */
	if (memchr(buf, '\0', len)) {
		config_wipe_free(buf, len);
		return -EILSEQ;
	}
	*out = buf;
	return 0;

err_close:
	fclose(f);
err_free:
	config_wipe_free(buf, len);
	return ret;
}

int config_parse_file(struct xwg_config *cfg, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *text = NULL;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = config_read_file(path, &text);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", slash ? slash + 1 : path,
				 ret == -EILSEQ ? "contains a NUL byte" : strerror(-ret));
		return ret == -EILSEQ ? -EINVAL : ret;
	}
	ret = config_parse_string(cfg, path, text, err, errlen);
	config_wipe_free(text, strlen(text));
	/* Down and SaveConfig come back to this file, from another working directory. */
	if (!ret && !realpath(path, cfg->path))
		snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	return ret;
}

void config_free(struct xwg_config *cfg)
{
	struct xwg_config_peer *peer, *next;

	for (peer = cfg->peers; peer; peer = next) {
		next = peer->next;
		free(peer->allowed_ips);
		crypto_zero(peer, sizeof(*peer));
		free(peer);
	}
	free(cfg->addresses);
	free(cfg->dns);
	for (size_t i = 0; i < cfg->n_dns_search; i++)
		free(cfg->dns_search[i]);
	free(cfg->dns_search);
	for (int h = 0; h < XWG_HOOK_MAX; h++) {
		for (size_t i = 0; i < cfg->n_hooks[h]; i++)
			free(cfg->hooks[h][i]);
		free(cfg->hooks[h]);
	}
	/* Keys were in here: do not leave them behind in freed-but-readable memory. */
	crypto_zero(cfg, sizeof(*cfg));
}
