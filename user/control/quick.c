/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's sequence around the agent: the state record, the hooks, and up and down in order. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"
#include "quick.h"
#include "uapi.h"

extern char **environ;

/* ---- the state record */

const char *quick_state_get(const struct quick_state *st, const char *key)
{
	for (int i = 0; i < st->n; i++)
		if (!strcmp(st->kv[i].key, key))
			return st->kv[i].value;
	return NULL;
}

static int quick_state_write(const struct quick_state *st)
{
	char tmp[sizeof(st->path) + 8];
	FILE *f;
	int ret = 0;

	if (mkdir(XWG_STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.tmp", st->path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	for (int i = 0; i < st->n; i++)
		fprintf(f, "%s=%s\n", st->kv[i].key, st->kv[i].value);
	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, st->path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int quick_state_set(struct quick_state *st, const char *key, const char *fmt, ...)
{
	char value[sizeof(st->kv[0].value)];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	value[strcspn(value, "\n")] = '\0';	/* one line per key */
	for (i = 0; i < st->n && strcmp(st->kv[i].key, key); i++)
		;
	if (i == QUICK_STATE_MAX || strlen(key) >= sizeof(st->kv[0].key))
		return -ENOSPC;
	if (i == st->n)
		st->n++;
	snprintf(st->kv[i].key, sizeof(st->kv[i].key), "%s", key);
	memcpy(st->kv[i].value, value, sizeof(value));
	return quick_state_write(st);
}

static void quick_state_init(struct quick_state *st, const char *ifname)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);
	snprintf(st->path, sizeof(st->path), "%s/%s" XWG_STATE_SUFFIX, XWG_STATE_DIR, ifname);
}

/* Reads a state file into st (keys of later versions are kept as they are); -errno. */
static int quick_state_load(struct quick_state *st, const char *file)
{
	char line[sizeof(st->kv[0].key) + sizeof(st->kv[0].value) + 2], *eq;
	FILE *f = fopen(file, "re");

	if (!f)
		return -errno;
	while (st->n < QUICK_STATE_MAX && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (!eq || eq == line || (size_t)(eq - line) >= sizeof(st->kv[0].key))
			continue;
		*eq = '\0';
		memcpy(st->kv[st->n].key, line, (size_t)(eq - line) + 1);
		snprintf(st->kv[st->n].value, sizeof(st->kv[0].value), "%s", eq + 1);
		st->n++;
	}
	fclose(f);
	return 0;
}

int quick_state_open(struct quick_state *st, const char *ifname)
{
	quick_state_init(st, ifname);
	return quick_state_load(st, st->path);
}

/* ---- hooks */

/* cmd with every %i replaced by the interface name, as wg-quick's ${hook//%i/$INTERFACE}. */
static char *quick_hook_expand(const char *cmd, const char *ifname)
{
	size_t n = 0, len = strlen(ifname);
	const char *p;
	char *out, *o;

	for (p = cmd; (p = strstr(p, "%i")); p += 2)
		n++;
	out = malloc(strlen(cmd) + n * len + 1);
	if (!out)
		return NULL;
	for (o = out, p = cmd; *p;) {
		if (p[0] == '%' && p[1] == 'i') {
			memcpy(o, ifname, len);
			o += len;
			p += 2;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Waits for pid. Meanwhile dev (if not NULL) answers on its UAPI socket, because the child may be a
 * hook running "wg set %i ..." against this very agent, which would otherwise wait for it forever.
 */
static int quick_wait(pid_t pid, struct xwg_device *dev, int *status)
{
	/* Without pidfds (Linux < 5.3) the wait is a plain one, as it was. */
	int pidfd = dev && dev->uapi_fd >= 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;

	while (pidfd >= 0) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = dev->uapi_fd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents || (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)))
			break;
		if (p[1].revents & POLLIN)
			uapi_accept(dev);	/* one connection, bounded by its I/O timeouts */
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return 0;
}

int quick_spawn(char *const argv[], const char *input, struct xwg_device *dev)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int status, ret, stdin_fds[2] = { -1, -1 };
	size_t len = input ? strlen(input) : 0, done = 0;
	pid_t pid;

	/* A socket rather than a pipe: MSG_NOSIGNAL, so a child that does not read costs no SIGPIPE. */
	if (input && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_fds) < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	ret = posix_spawnattr_init(&attr);
	if (ret)
		goto out_fds;
	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		goto out_attr;
	/* The agent blocks its stop signals and ignores SIGPIPE: the child gets the defaults back. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (input)
		ret = posix_spawn_file_actions_adddup2(&fa, stdin_fds[0], STDIN_FILENO);
	if (!ret)
		ret = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		goto out_attr;
	if (input) {
		close(stdin_fds[0]);
		stdin_fds[0] = -1;
		/* A child that exits without reading makes this fail: its exit status tells what happened. */
		while (done < len) {
			ssize_t n = send(stdin_fds[1], input + done, len - done, MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			done += (size_t)n;
		}
		close(stdin_fds[1]);
		stdin_fds[1] = -1;
	}
	ret = quick_wait(pid, dev, &status);
	if (ret)
		goto out_attr;
	posix_spawnattr_destroy(&attr);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

out_attr:
	posix_spawnattr_destroy(&attr);
out_fds:
	if (stdin_fds[0] >= 0)
		close(stdin_fds[0]);
	if (stdin_fds[1] >= 0)
		close(stdin_fds[1]);
	return -ret;
}

/*
 * bash as wg-quick runs a hook: inside its own "set -e -o pipefail" and extglob shell, so a hook
 * "false; true" fails under xwg as it does under wg-quick.
 */
static int quick_hook_spawn(const char *cmd, struct xwg_device *dev)
{
	char *argv[] = { "bash", "-e", "-o", "pipefail", "-O", "extglob", "-c", (char *)cmd, NULL };

	return quick_spawn(argv, NULL, dev);
}

int quick_hooks_run(const struct xwg_config *cfg, enum xwg_hook which, struct xwg_device *dev, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < cfg->n_hooks[which]; i++) {
		char *cmd = quick_hook_expand(cfg->hooks[which][i], cfg->ifname);
		int ret;

		if (!cmd) {
			snprintf(err, errlen, "%s: out of memory", cfg->ifname);
			return -ENOMEM;
		}
		fprintf(stderr, "[#] %s\n", cmd);
		fflush(stderr);
		ret = quick_hook_spawn(cmd, dev);
		if (ret) {
			if (ret < 0)
				snprintf(err, errlen, "%s: %s '%s': cannot run bash: %s", cfg->ifname,
					 config_hook_names[which], cmd, strerror(-ret));
			else
				snprintf(err, errlen, "%s: %s '%s' failed (exit status %d)", cfg->ifname,
					 config_hook_names[which], cmd, ret);
			free(cmd);
			return -ECANCELED;
		}
		free(cmd);
	}
	return 0;
}

/* ---- up */

int quick_prepare(struct xwg_config *cfg, bool adopting, char *err, size_t errlen)
{
	int ret = quick_route_prepare(cfg, err, errlen);

	if (!ret && !cfg->mtu)
		cfg->mtu = quick_route_mtu(cfg);
	return ret;
}

int quick_pre_up(const struct xwg_config *cfg, bool adopting, char *err, size_t errlen)
{
	/* The interface already existed for its hooks: a restarted agent does not run them again. */
	return adopting ? 0 : quick_hooks_run(cfg, XWG_HOOK_PRE_UP, NULL, err, errlen);
}

/* Undoes whatever the state records, in the reverse order of quick_up. */
static void quick_undo(const struct quick_state *st)
{
	quick_route_down(st);
	quick_dns_down(st);
}

int quick_up(struct xwg_device *dev, const struct xwg_config *cfg, bool adopting, char *err, size_t errlen)
{
	struct quick_state st;
	int ret;

	quick_state_init(&st, cfg->ifname);
	/*
	 * A dead agent's record describes what is still in place: build on it, then undo all of it on
	 * failure. Also when its tunnel went with it (tun after kill -9): its rules and sysctls did not.
	 */
	quick_state_load(&st, st.path);
	ret = quick_state_set(&st, "config", "%s", cfg->path);
	if (ret) {
		snprintf(err, errlen, "%s: cannot write %s: %s", cfg->ifname, st.path, strerror(-ret));
		return ret;
	}
	ret = quick_dns_up(cfg, &st, err, errlen);
	if (!ret)
		ret = quick_route_up(dev, cfg, &st, err, errlen);
	if (!ret && !adopting)
		ret = quick_hooks_run(cfg, XWG_HOOK_POST_UP, dev, err, errlen);
	if (!ret)
		return 0;
	quick_undo(&st);
	unlink(st.path);
	return ret;
}

/* ---- down */

int quick_down_claim(const char *ifname, struct quick_down *d)
{
	char err[512];
	const char *path;

	memset(d, 0, sizeof(*d));
	quick_state_init(&d->st, ifname);
	/* rename() is atomic: of xwg down and the agent's own exit, exactly one gets the record. */
	snprintf(d->claimed, sizeof(d->claimed), "%s.down.%d", d->st.path, (int)getpid());
	if (rename(d->st.path, d->claimed) < 0)
		return errno == ENOENT ? 0 : -errno;
	quick_state_load(&d->st, d->claimed);
	path = quick_state_get(&d->st, "config");
	if (path && *path) {
		if (!config_parse_file(&d->cfg, path, err, sizeof(err)))
			d->has_cfg = true;
		else
			fprintf(stderr, "xwg: %s: no PreDown/PostDown hooks or SaveConfig: %s\n", ifname, err);
	}
	return 1;
}

void quick_down_begin(struct quick_down *d, int (*getconf)(void *ctx, FILE *out), void *ctx)
{
	char err[512];

	if (!d->has_cfg)
		return;
	/* wg-quick stops at a failing PreDown; leaving the interface half up helps nobody, so go on. */
	if (quick_hooks_run(&d->cfg, XWG_HOOK_PRE_DOWN, d->dev, err, sizeof(err)))
		fprintf(stderr, "xwg: %s\n", err);
	if (!d->cfg.save_config)
		return;
	if (!getconf)
		fprintf(stderr, "xwg: %s: SaveConfig: no running agent to read the configuration from\n",
			d->st.ifname);
	else if (quick_save(&d->cfg, d->st.ifname, d->cfg.path, getconf, ctx, err, sizeof(err)))
		fprintf(stderr, "xwg: %s\n", err);
}

void quick_down_end(struct quick_down *d)
{
	char err[512];

	quick_undo(&d->st);
	if (d->has_cfg && quick_hooks_run(&d->cfg, XWG_HOOK_POST_DOWN, NULL, err, sizeof(err)))
		fprintf(stderr, "xwg: %s\n", err);
	unlink(d->claimed);
	if (d->has_cfg)
		config_free(&d->cfg);
}
