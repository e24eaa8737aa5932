/* SPDX-License-Identifier: GPL-2.0 */
/* The xwg command line: argument parsing, key tools, and dispatch to start-up, show and shutdown. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "encoding.h"
#include "noise.h"
#include "metrics.h"
#include "offload.h"
#include "quick.h"
#include "show.h"
#include "node_agent.h"	/* the one call into the node layer: its command */

#ifndef XWG_VERSION
#define XWG_VERSION "0.1.0"
#endif

#define DOWN_TIMEOUT_MS 5000

struct command {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
	const char *usage;	/* arguments after "xwg NAME" */
};

static const struct command *commands_find(const char *name);

static void usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: xwg %s%s%s\n", c->name, *c->usage ? " " : "", c->usage);
}

/* Rejects stray arguments so "xwg genkey foo" is an error rather than silently ignored. */
static int args_none(int argc, char *argv[])
{
	if (argc == 1)
		return 0;
	fprintf(stderr, "xwg: %s: unexpected argument '%s'\n", argv[0], argv[1]);
	usage_command(stderr, commands_find(argv[0]));
	return -EINVAL;
}

static int write_stdout_checked(const char *cmd)
{
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "xwg: %s: cannot write to stdout: %s\n", cmd, strerror(errno));
		return 1;
	}
	return 0;
}

/* A private key written into a file others can read is a leak waiting to happen: say so, as wg does. */
static void warn_world_accessible_stdout(void)
{
	struct stat st;

	if (!fstat(STDOUT_FILENO, &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to a world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n", stderr);
}

static int print_key(const char *cmd, uint8_t key[32])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	crypto_zero(key, 32);
	puts(b64);
	crypto_zero(b64, sizeof(b64));
	return write_stdout_checked(cmd);
}

/* genkey and genpsk: 32 random bytes, clamped when they are to be a private key. */
static int cmd_genkey(int argc, char *argv[])
{
	uint8_t key[32];

	if (args_none(argc, argv))
		return 1;
	warn_world_accessible_stdout();
	crypto_random(key, sizeof(key));
	if (!strcmp(argv[0], "genkey"))
		curve25519_clamp(key);
	return print_key(argv[0], key);
}

/* Reads all of stdin (a key and maybe a newline); anything much longer cannot be a key anyway. */
static int read_key_stdin(char *buf, size_t size)
{
	size_t len = 0, n;

	while ((n = fread(buf + len, 1, size - 1 - len, stdin)) > 0) {
		len += n;
		if (len == size - 1)
			return -EINVAL;
	}
	if (ferror(stdin))
		return -EIO;
	buf[len] = '\0';
	return 0;
}

static int cmd_pubkey(int argc, char *argv[])
{
	uint8_t priv[32], pub[32];
	char buf[128];
	int ret;

	if (args_none(argc, argv))
		return 1;
	ret = read_key_stdin(buf, sizeof(buf));
	if (!ret)
		ret = key_from_base64(priv, text_trim(buf));
	crypto_zero(buf, sizeof(buf));
	if (ret) {
		fprintf(stderr, "xwg: pubkey: invalid private key on stdin\n");
		return 1;
	}
	ret = curve25519_generate_public(pub, priv);
	crypto_zero(priv, sizeof(priv));
	if (ret) {
		fprintf(stderr, "xwg: pubkey: cannot compute the public key: %s\n", strerror(-ret));
		return 1;
	}
	return print_key(argv[0], pub);
}

static bool arg_is_path(const char *arg)
{
	size_t len = strlen(arg);

	return strchr(arg, '/') || (len > 5 && !strcmp(arg + len - 5, ".conf"));
}

/* Interface name of a CONFIG|IFNAME argument: a path's base name without ".conf". */
static int arg_ifname(const char *cmd, const char *arg, char ifname[IFNAMSIZ])
{
	const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	size_t len = strlen(base);

	if (arg_is_path(arg) && len > 5 && !strcmp(base + len - 5, ".conf"))
		len -= 5;
	if (len < IFNAMSIZ) {
		memcpy(ifname, base, len);
		ifname[len] = '\0';
		if (ifname_valid(ifname))
			return 0;
	}
	fprintf(stderr, "xwg: %s: '%s' is not a valid interface name or configuration file\n", cmd, arg);
	return -EINVAL;
}

/* wg-quick's search: a path is used as is, a bare name is looked up in the configuration dirs. */
static int config_locate(const char *arg, char *path, size_t len)
{
	static const char *const dirs[] = { "/etc/xwg", "/etc/wireguard" };
	char ifname[IFNAMSIZ];

	if (arg_is_path(arg)) {
		snprintf(path, len, "%s", arg);
		return 0;
	}
	if (arg_ifname("up", arg, ifname))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, len, "%s/%s.conf", dirs[i], ifname);
		if (!access(path, F_OK))
			return 0;
	}
	fprintf(stderr, "xwg: %s: no configuration file (looked for %s/%s.conf and %s/%s.conf)\n",
		ifname, dirs[0], ifname, dirs[1], ifname);
	return -ENOENT;
}

static void config_warn_permissions(const char *path)
{
	struct stat st;

	if (!stat(path, &st) && (st.st_mode & S_IRWXO))
		fprintf(stderr, "Warning: '%s' is world accessible\n", path);
}

/* Checked before anything else happens, so a typo costs nothing. */
static int mode_check(const char *cmd, const char *mode)
{
	enum offload_mode m;

	if (!offload_mode_parse(mode, &m))
		return 0;
	fprintf(stderr, "xwg: %s: unknown data path mode '%s' (auto, xdp, xdp-generic, tc or tun)\n", cmd, mode);
	return -EINVAL;
}

/* Checked before anything is created, like the mode. */
static int metrics_check(const char *cmd, const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!metrics_listen_parse(listen, &ss, &len))
		return 0;
	fprintf(stderr, "xwg: %s: invalid --metrics-listen '%s' (want ADDR:PORT with a numeric address and a port "
		"from 1 to 65535, e.g. 127.0.0.1:9586 or [::1]:9586)\n", cmd, listen);
	return -EINVAL;
}

/*
 * up and run: "[-f|--foreground] [--mode MODE] [--metrics-listen ADDR:PORT] NAME" in any order.
 * Leaves what is not given as it was; 0, or -EINVAL after printing the usage or a bad value.
 */
static int args_agent(int argc, char *argv[], bool *foreground, const char **mode, const char **metrics,
		      const char **name)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f")) {
			*foreground = true;
		} else if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
			*mode = argv[++i];
		} else if (!strncmp(argv[i], "--mode=", 7)) {
			*mode = argv[i] + 7;
		} else if (!strcmp(argv[i], "--metrics-listen") && i + 1 < argc) {
			*metrics = argv[++i];
		} else if (!strncmp(argv[i], "--metrics-listen=", 17)) {
			*metrics = argv[i] + 17;
		} else if (argv[i][0] == '-' || *name) {
			fprintf(stderr, "xwg: %s: unexpected argument '%s'\n", argv[0], argv[i]);
			*name = NULL;
			break;
		} else {
			*name = argv[i];
		}
	}
	if (*name)
		return *metrics ? metrics_check(argv[0], *metrics) : 0;
	usage_command(stderr, commands_find(argv[0]));
	return -EINVAL;
}

static int cmd_up(int argc, char *argv[])
{
	struct agent_opts opts = { 0 };
	const char *arg = NULL, *mode = NULL;
	struct xwg_config cfg;
	char path[4096], err[512];
	int ret;

	if (args_agent(argc, argv, &opts.foreground, &mode, &opts.metrics_listen, &arg))
		return 1;
	if (mode && mode_check(argv[0], mode))
		return 1;
	if (config_locate(arg, path, sizeof(path)))
		return 1;
	ret = config_parse_file(&cfg, path, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "xwg: %s\n", err);
		return 1;
	}
	config_warn_permissions(path);
	ret = quick_prepare(&cfg, if_nametoindex(cfg.ifname) != 0, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "xwg: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	opts.ifname = cfg.ifname;
	opts.cfg = &cfg;
	opts.mode = mode ? mode : cfg.mode;
	ret = agent_start(&opts, err, sizeof(err));
	if (ret)
		fprintf(stderr, "xwg: %s\n", err);
	config_free(&cfg);
	return ret ? 1 : 0;
}

/* wg-quick runs "xwg-run IFNAME" with no options: XWG_MODE is how its users pick a mode. */
static int cmd_run(int argc, char *argv[])
{
	struct agent_opts opts = { .quiet = true, .mode = getenv("XWG_MODE") };
	const char *env = getenv("WG_PROCESS_FOREGROUND");
	char err[512];

	opts.foreground = env && !strcmp(env, "1");
	if (args_agent(argc, argv, &opts.foreground, &opts.mode, &opts.metrics_listen, &opts.ifname))
		return 1;
	/* Like XWG_MODE: how wg-quick's users, whose xwg-run gets no options, ask for metrics. */
	env = getenv("XWG_METRICS_LISTEN");
	if (!opts.metrics_listen && env && *env) {
		if (metrics_check("run: XWG_METRICS_LISTEN", env))
			return 1;
		opts.metrics_listen = env;
	}
	if (!ifname_valid(opts.ifname)) {
		fprintf(stderr, "xwg: run: '%s' is not a valid interface name\n", opts.ifname);
		return 1;
	}
	if (opts.mode && *opts.mode &&
	    mode_check(opts.mode == getenv("XWG_MODE") ? "run: XWG_MODE" : argv[0], opts.mode))
		return 1;
	if (agent_start(&opts, err, sizeof(err))) {
		fprintf(stderr, "xwg: %s\n", err);
		return 1;
	}
	return 0;
}

/* xwg strip CONFIG|IFNAME: the wg(8) part of a wg-quick file, for wg setconf / wg syncconf. */
static int cmd_strip(int argc, char *argv[])
{
	char path[4096], err[512];

	if (argc != 2 || argv[1][0] == '-') {
		usage_command(stderr, commands_find(argv[0]));
		return 1;
	}
	if (config_locate(argv[1], path, sizeof(path)))
		return 1;
	if (config_strip(path, stdout, err, sizeof(err))) {
		fprintf(stderr, "xwg: %s\n", err);
		return 1;
	}
	return write_stdout_checked(argv[0]);
}

/* The kernel's rule for a device name (dev_valid_name), which is wider than wg-quick's. */
static bool netdev_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Sends one set request over an open UAPI connection and returns the agent's errno (0 or -errno). */
static int agent_set_key(int fd, const char *key, const char *value)
{
	char req[128], line[64];
	int len, ret = -EPROTO;
	FILE *in;

	/* agent_connect's timeouts bound the wait for the answer (attaching loads nothing, it is quick). */
	len = snprintf(req, sizeof(req), "set=1\n%s=%s\n\n", key, value);
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		return errno ? -errno : -EIO;
	in = fdopen(dup(fd), "r");
	if (!in)
		return -errno;
	/* The agent keeps the connection open for more requests: read the reply, not up to EOF. */
	if (fgets(line, sizeof(line), in) && !strncmp(line, "errno=", 6)) {
		char *end;
		long v = strtol(line + 6, &end, 10);

		if (*end == '\n' && v >= -4095 && v <= 4095)
			ret = v > 0 ? (int)-v : (int)v;	/* some servers send it positive */
	} else if (ferror(in)) {
		ret = -EIO;
	}
	fclose(in);
	return ret;
}

/* Prints why there is no agent to talk to; returns the exit status 1. */
static int agent_connect_error(const char *ifname, int err)
{
	if (err == -ENOENT || err == -ECONNREFUSED)
		fprintf(stderr, "xwg: %s: not running\n", ifname);
	else
		fprintf(stderr, "xwg: %s: cannot connect to %s/%s.sock: %s\n", ifname, XWG_UAPI_DIR, ifname,
			strerror(-err));
	return 1;
}

/* The running agent's UAPI socket, or -1 after saying why not. */
static int agent_open(const char *ifname)
{
	int fd = agent_connect(ifname);

	return fd < 0 ? -agent_connect_error(ifname, fd) : fd;
}

/* xwg attach|detach IFNAME DEV: asks IFNAME's agent to start or stop offloading on underlay DEV. */
static int cmd_attach(int argc, char *argv[])
{
	bool attach = !strcmp(argv[0], "attach");
	const char *ifname, *dev;
	char mode[32];
	int fd, ret;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		usage_command(stderr, commands_find(argv[0]));
		return 1;
	}
	ifname = argv[1];
	dev = argv[2];
	if (!ifname_valid(ifname)) {
		fprintf(stderr, "xwg: %s: '%s' is not a valid interface name\n", argv[0], ifname);
		return 1;
	}
	if (!netdev_name_valid(dev)) {
		fprintf(stderr, "xwg: %s: '%s' is not a valid device name\n", argv[0], dev);
		return 1;
	}
	fd = agent_open(ifname);
	if (fd < 0)
		return 1;
	ret = agent_set_key(fd, attach ? "xwg_attach" : "xwg_detach", dev);
	close(fd);
	if (!ret) {
		printf("[#] xwg: %s: %s %s\n", ifname, attach ? "attached" : "detached", dev);
		return write_stdout_checked(argv[0]);
	}
	if (ret == -EPROTO) {
		fprintf(stderr, "xwg: %s: malformed reply from the agent\n", ifname);
		return 1;
	}
	fprintf(stderr, "xwg: %s: cannot %s %s: ", ifname, argv[0], dev);
	/* The agent answers with an errno only: say what it means here. */
	if (attach && ret == -EEXIST)
		fprintf(stderr, "already attached\n");
	else if (!attach && ret == -ENOENT)
		fprintf(stderr, "not attached\n");
	else if (ret == -EOPNOTSUPP && !show_get_mode(ifname, mode, sizeof(mode)) && !strcmp(mode, "tun"))
		fprintf(stderr, "the data path is tun (start the interface with another --mode)\n");
	else
		fprintf(stderr, "%s%s\n", strerror(-ret), ret == -EINVAL ? " (is it an xwg agent?)" : "");
	return 1;
}

/* A zombie has exited for our purposes: its TUN and socket are already gone. */
static bool process_alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
		state = 0;
	fclose(f);
	return state != 'Z';
}

/* The running configuration, for SaveConfig: a UAPI get on the agent's socket, copied to out. */
static int down_getconf(void *ctx, FILE *out)
{
	static const char req[] = "get=1\n\n";
	const char *ifname = ctx;
	char buf[4096];
	ssize_t n;
	int fd = agent_connect(ifname), ret = 0;

	if (fd < 0)
		return fd;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return -EIO;
	}
	shutdown(fd, SHUT_WR);	/* one request: the agent answers it, then sees EOF and hangs up */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			ret = -EIO;
	if (n < 0)
		ret = -errno;
	close(fd);
	crypto_zero(buf, sizeof(buf));	/* the reply holds the private key */
	return ret;
}

/*
 * The pid of the agent behind fd, which is closed here: the agent serves one connection at a time,
 * and PreDown hooks and SaveConfig talk to it before it is stopped. 0 or exit status 1.
 */
static int down_agent_pid(const char *ifname, int fd, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int ret = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
		fprintf(stderr, "xwg: %s: cannot identify the agent's process\n", ifname);
		ret = 1;
	}
	close(fd);
	*pid = ret ? 0 : cred.pid;
	return ret;
}

/* A socket nobody listens on any more (the agent was killed): refused, so safe to remove. */
static void down_unlink_dead_socket(const char *ifname, int connect_err)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (connect_err != -ECONNREFUSED)
		return;
	snprintf(path, sizeof(path), "%s/%s.sock", XWG_UAPI_DIR, ifname);
	unlink(path);
}

/* SIGTERM to the agent, then wait for it to be gone; 0 or exit status 1. */
static int down_stop_agent(const char *ifname, pid_t pid)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int waited;

	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "xwg: %s: cannot stop the agent (pid %d): %s\n", ifname, (int)pid,
			strerror(errno));
		return 1;
	}
	for (waited = 0; process_alive(pid); waited += 50) {
		if (waited >= DOWN_TIMEOUT_MS) {
			fprintf(stderr, "xwg: %s: the agent (pid %d) did not stop within %d seconds\n", ifname,
				(int)pid, DOWN_TIMEOUT_MS / 1000);
			return 1;
		}
		nanosleep(&tick, NULL);
	}
	return 0;
}

/*
 * wg-quick's down around the agent's: PreDown and SaveConfig while it runs, then the agent stops
 * (taking the device and its routes), then routes in other tables, rules, firewall, DNS, PostDown.
 */
static int cmd_down(int argc, char *argv[])
{
	struct quick_down d;
	char ifname[IFNAMSIZ];
	int fd, claimed, ret = 0;
	pid_t pid = 0;

	if (argc != 2 || argv[1][0] == '-') {
		usage_command(stderr, commands_find(argv[0]));
		return 1;
	}
	if (arg_ifname("down", argv[1], ifname))
		return 1;
	fd = agent_connect(ifname);
	if (fd < 0 && fd != -ENOENT && fd != -ECONNREFUSED)
		return agent_connect_error(ifname, fd);
	if (fd >= 0 && down_agent_pid(ifname, fd, &pid))
		return 1;
	claimed = quick_down_claim(ifname, &d);
	if (claimed < 0)
		fprintf(stderr, "xwg: %s: cannot read %s/%s" XWG_STATE_SUFFIX ": %s\n", ifname, XWG_STATE_DIR, ifname,
			strerror(-claimed));
	if (claimed > 0)
		quick_down_begin(&d, fd >= 0 ? down_getconf : NULL, ifname);
	if (fd >= 0) {
		ret = down_stop_agent(ifname, pid);
	} else if (offload_cleanup_stale(ifname) == 0 || claimed > 0) {
		/* No agent, but a dead one's tunnel and pins: removing those is what down is for. */
		down_unlink_dead_socket(ifname, fd);
		printf("[#] xwg: %s down (removed what a dead agent left)\n", ifname);
	} else if (claimed <= 0) {
		return agent_connect_error(ifname, fd);
	}
	if (claimed > 0)
		quick_down_end(&d);
	if (!ret && fd >= 0)
		printf("[#] xwg: %s down\n", ifname);
	return ret;
}

/* One interface into a buffer first, so an agent that vanishes mid-listing leaves no half object. */
static void show_one_buffered(const char *name, bool json, bool *first)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&text, &len);
	if (!f)
		return;
	ret = show_print(name, json, f);
	fclose(f);
	if (json)
		while (len && text[len - 1] == '\n')
			len--;
	if (!ret && len) {
		if (!*first)
			fputs(json ? ",\n" : "\n", stdout);
		fwrite(text, 1, len, stdout);
		*first = false;
	}
	free(text);
}

/* "show all --json" prints one JSON array of the per-interface objects show_print produces. */
static int show_all(bool json)
{
	char *name, *save = NULL;
	bool first = true;
	int ret;
	char *names = show_interface_names(&ret);

	if (!names)
		return ret;
	if (json)
		fputs("[\n", stdout);
	for (name = strtok_r(names, "\n", &save); name; name = strtok_r(NULL, "\n", &save))
		show_one_buffered(name, json, &first);
	if (json)
		fputs(first ? "]\n" : "\n]\n", stdout);
	free(names);
	return 0;
}

static int cmd_show(int argc, char *argv[])
{
	const char *what = NULL;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' || what) {
			fprintf(stderr, "xwg: show: unexpected argument '%s'\n", argv[i]);
			usage_command(stderr, commands_find(argv[0]));
			return 1;
		} else {
			what = argv[i];
		}
	}
	if (what && !strcmp(what, "interfaces")) {
		if (json) {
			fprintf(stderr, "xwg: show: --json does not apply to 'interfaces'\n");
			return 1;
		}
		return show_list_interfaces(stdout) < 0 || write_stdout_checked("show");
	}
	if (!what || !strcmp(what, "all"))
		return show_all(json) < 0 || write_stdout_checked("show");
	if (!ifname_valid(what)) {
		fprintf(stderr, "xwg: show: '%s' is not a valid interface name\n", what);
		return 1;
	}
	/* show_print reports its own failure on stderr. */
	return show_print(what, json, stdout) < 0 || write_stdout_checked("show");
}

/* xwg metrics [INTERFACE]: one interface, or every live one, in Prometheus text format. */
static int cmd_metrics(int argc, char *argv[])
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "xwg: metrics: unexpected argument '%s'\n", argv[argc - 1]);
		usage_command(stderr, commands_find(argv[0]));
		return 1;
	}
	if (argc == 2 && !ifname_valid(argv[1])) {
		fprintf(stderr, "xwg: metrics: '%s' is not a valid interface name\n", argv[1]);
		return 1;
	}
	/* metrics_print reports a failure to reach the interface itself. */
	return metrics_print(argc == 2 ? argv[1] : NULL, stdout, false) < 0 || write_stdout_checked("metrics");
}

static int cmd_help(int argc, char *argv[]);

static const struct command commands[] = {
	{ "up", cmd_up, "Creates an interface from a configuration file and starts its agent",
	  "CONFIG_FILE|INTERFACE [--mode auto|xdp|xdp-generic|tc|tun] [--foreground] [--metrics-listen ADDR:PORT]" },
	{ "down", cmd_down, "Stops the agent of an interface, which removes the interface",
	  "INTERFACE|CONFIG_FILE" },
	{ "strip", cmd_strip, "Prints the part of a configuration file that wg(8) understands (like wg-quick strip)",
	  "CONFIG|IFNAME" },
	{ "show", cmd_show, "Shows the state of one or all interfaces", "[INTERFACE|all|interfaces] [--json]" },
	{ "run", cmd_run, "Runs an unconfigured interface for wg(8) to configure (like wireguard-go)",
	  "[-f|--foreground] [--mode auto|xdp|xdp-generic|tc|tun] [--metrics-listen ADDR:PORT] INTERFACE" },
	{ "metrics", cmd_metrics, "Prints the counters of one or all interfaces for Prometheus", "[INTERFACE]" },
	{ "attach", cmd_attach, "Attaches the BPF data path of an interface to one more underlay device",
	  "INTERFACE DEVICE" },
	{ "detach", cmd_attach, "Detaches the BPF data path of an interface from an underlay device",
	  "INTERFACE DEVICE" },
	{ "node-agent", cmd_node_agent, NODE_AGENT_HELP, NODE_AGENT_USAGE },
	{ "genkey", cmd_genkey, "Generates a new private key and writes it to stdout", "" },
	{ "genpsk", cmd_genkey, "Generates a new preshared key and writes it to stdout", "" },
	{ "pubkey", cmd_pubkey, "Reads a private key from stdin and writes its public key to stdout", "" },
	{ "help", cmd_help, "Shows this help, or the usage of one command", "[COMMAND]" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *commands_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: xwg <command> [<args>]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nPass --help to any command for its usage. See xwg(8).\n");
}

static int cmd_help(int argc, char *argv[])
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = commands_find(argv[1]);
	if (!c || argc > 2) {
		fprintf(stderr, "xwg: help: unknown command '%s'\n", argv[1]);
		return 1;
	}
	printf("%s\n", c->help);
	usage_command(stdout, c);
	return 0;
}

static bool args_want_help(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static int command_exec(const struct command *c, int argc, char *argv[])
{
	if (args_want_help(argc, argv)) {
		printf("%s\n", c->help);
		usage_command(stdout, c);
		return 0;
	}
	/* The agent writes to UAPI clients that may hang up at any time: EPIPE is enough. */
	signal(SIGPIPE, SIG_IGN);
	if (crypto_init()) {
		fprintf(stderr, "xwg: OpenSSL lacks an algorithm xwg needs (X25519, BLAKE2s, ChaCha20-Poly1305)\n");
		return 1;
	}
	noise_init();
	/* Before any fork: the agent must pin where the next agent (and `xwg down`) will look. */
	offload_prepare();
	return c->fn(argc, argv);
}

int main(int argc, char *argv[])
{
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const struct command *c;

	/*
	 * wg-quick runs its userspace implementation as "IMPL IFNAME", so a link named xwg-run
	 * makes WG_QUICK_USERSPACE_IMPLEMENTATION=xwg-run work without guessing at typos here.
	 */
	if (!strcmp(base, "xwg-run")) {
		argv[0] = "run";
		return command_exec(commands_find("run"), argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("xwg v%s\n", XWG_VERSION);
		return 0;
	}
	c = commands_find(argv[1]);
	if (!c) {
		fprintf(stderr, "xwg: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 1;
	}
	return command_exec(c, argc - 1, argv + 1);
}
