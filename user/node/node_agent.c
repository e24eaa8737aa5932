/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg node-agent`: options, the node's key, the device on one thread and the Node watch on another. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "device.h"
#include "encoding.h"
#include "kube_http.h"
#include "metrics.h"
#include "node_agent.h"
#include "node_device.h"
#include "node_watch.h"
#include "offload.h"

#define NODE_KEY_FILE "private.key"

struct node_opts {
	const char *kubeconfig;
	const char *node_name;
	const char *ifname;
	uint16_t listen_port;
	const char *state_dir;
	const char *mode;
	const char *metrics_listen;
};

/* Every value checked before anything is created, each error quoting it. */
static int node_opts_check(const struct node_opts *o)
{
	struct sockaddr_storage ss;
	enum offload_mode mode;
	socklen_t sslen;

	if (!o->node_name || !*o->node_name) {
		fprintf(stderr, "xwg: node-agent: no node name: pass --node-name or set NODE_NAME\n");
		return -EINVAL;
	}
	if (strlen(o->node_name) >= NODE_NAME_MAX ||
	    strspn(o->node_name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(o->node_name)) {
		fprintf(stderr, "xwg: node-agent: invalid --node-name '%s' (a lower-case DNS name)\n", o->node_name);
		return -EINVAL;
	}
	if (!ifname_valid(o->ifname)) {
		fprintf(stderr, "xwg: node-agent: invalid --interface '%s'\n", o->ifname);
		return -EINVAL;
	}
	if (offload_mode_parse(o->mode, &mode)) {
		fprintf(stderr, "xwg: node-agent: invalid --mode '%s' (auto, xdp, xdp-generic, tc or tun)\n", o->mode);
		return -EINVAL;
	}
	if (o->metrics_listen && metrics_listen_parse(o->metrics_listen, &ss, &sslen)) {
		fprintf(stderr, "xwg: node-agent: invalid --metrics-listen '%s' (ADDR:PORT, [ADDR]:PORT for IPv6)\n",
			o->metrics_listen);
		return -EINVAL;
	}
	if (!*o->state_dir) {
		fprintf(stderr, "xwg: node-agent: invalid --state-dir ''\n");
		return -EINVAL;
	}
	return 0;
}

static int node_opts_parse(int argc, char *argv[], struct node_opts *o)
{
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' }, { "node-name", required_argument, NULL, 'n' },
		{ "interface", required_argument, NULL, 'i' }, { "listen-port", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 's' }, { "mode", required_argument, NULL, 'm' },
		{ "metrics-listen", required_argument, NULL, 'M' }, { NULL, 0, NULL, 0 },
	};
	uint64_t port;
	int c;

	*o = (struct node_opts){ .node_name = getenv("NODE_NAME"), .ifname = "xwg0", .listen_port = 51820,
				 .state_dir = "/var/lib/xwg", .mode = "auto" };
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->kubeconfig = optarg; break;
		case 'n': o->node_name = optarg; break;
		case 'i': o->ifname = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'm': o->mode = optarg; break;
		case 'M': o->metrics_listen = optarg; break;
		case 'p':
			if (uint_parse(optarg, 65535, &port) || !port) {
				fprintf(stderr, "xwg: node-agent: invalid --listen-port '%s' (1-65535)\n", optarg);
				return -EINVAL;
			}
			o->listen_port = (uint16_t)port;
			break;
		default:
			if (optopt)
				fprintf(stderr, "xwg: node-agent: option '%s' needs a value\n", argv[optind - 1]);
			else
				fprintf(stderr, "xwg: node-agent: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xwg: node-agent: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return node_opts_check(o);
}

/* A new key, written whole under a temporary name and renamed, so a crash never leaves half a key. */
static int node_key_create(const char *path, uint8_t key[32])
{
	char tmp[4200], b64[KEY_B64_LEN + 2];
	int fd, ret = 0;

	curve25519_generate_private(key);
	key_to_base64(b64, key);
	strcat(b64, "\n");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, b64, strlen(b64)) != (ssize_t)strlen(b64) || fsync(fd))
		ret = -EIO;
	close(fd);
	crypto_zero(b64, sizeof(b64));
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* state_dir/private.key: reused when there, created (and the directory, 0700) on first start. */
static int node_key_load(const char *state_dir, uint8_t key[32], char *err, size_t errlen)
{
	char path[4096], buf[128];
	struct stat st;
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", state_dir, NODE_KEY_FILE);
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create --state-dir '%s': %s", state_dir, strerror(-ret));
		return ret;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		ret = node_key_create(path, key);
		if (ret)
			snprintf(err, errlen, "cannot create the key file %s: %s", path, strerror(-ret));
		else
			fprintf(stderr, "xwg: node-agent: created a new private key in %s\n", path);
		return ret;
	}
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the key file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		close(fd);
		snprintf(err, errlen, "key file %s is readable by others (mode %04o): chmod 600 it", path,
			 (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	ret = key_from_base64(key, text_trim(buf));
	crypto_zero(buf, sizeof(buf));
	if (ret) {
		snprintf(err, errlen, "key file %s does not hold a base64 private key", path);
		return -EINVAL;
	}
	return 0;
}

struct node_run {
	struct xwg_device *dev;
	atomic_bool stop;
	int ret;
};

static void *node_device_thread(void *arg)
{
	struct node_run *r = arg;

	r->ret = agent_serve_kept(r->dev);
	/* This thread's cipher contexts (handshakes ran here), before the thread is gone. */
	crypto_thread_release();
	/* The stop signal came to the device loop: the watch ends too. */
	atomic_store(&r->stop, true);
	return NULL;
}

static int node_kube_config(const struct node_opts *o, struct kube_config *kc)
{
	char err[512];
	int ret;

	if (o->kubeconfig)
		ret = kube_config_load(kc, o->kubeconfig, err, sizeof(err));
	else
		ret = kube_config_in_cluster(kc, NULL, err, sizeof(err));
	if (ret)
		fprintf(stderr, "xwg: node-agent: %s\n", err);
	return ret;
}

/* Up to the device serving: key, kubeconfig, interface. On failure nothing of ours is left. */
static int node_agent_up(const struct node_opts *o, struct xwg_device *dev, struct kube_config *kc,
			 uint8_t pub[32])
{
	struct xwg_config cfg;
	struct agent_opts ao = { .ifname = o->ifname, .cfg = &cfg, .mode = o->mode, .foreground = true,
				 .metrics_listen = o->metrics_listen };
	char err[8192] = "";
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.ifname, sizeof(cfg.ifname), "%s", o->ifname);
	cfg.has_listen_port = true;
	cfg.listen_port = o->listen_port;
	/* Routes are the reconciler's, per node: wg-quick's own would cover nothing here anyway. */
	cfg.table_mode = XWG_TABLE_OFF;
	ret = node_kube_config(o, kc);
	if (ret)
		return ret;
	ret = node_key_load(o->state_dir, cfg.private_key, err, sizeof(err));
	if (!ret)
		ret = curve25519_generate_public(pub, cfg.private_key);
	if (ret) {
		fprintf(stderr, "xwg: node-agent: %s\n", err[0] ? err : "cannot derive the public key");
		goto err;
	}
	cfg.has_private_key = true;
	ret = agent_start_here(dev, &ao, err, sizeof(err));
	crypto_zero(&cfg, sizeof(cfg));
	if (ret) {
		fprintf(stderr, "xwg: node-agent: %s\n", err);
		goto err;
	}
	return 0;
err:
	crypto_zero(&cfg, sizeof(cfg));
	kube_config_free(kc);
	return ret;
}

static void node_agent_watch(const struct node_opts *o, struct xwg_device *dev, const struct kube_config *kc,
			     const uint8_t pub[32], struct node_run *r)
{
	struct node_device nd = { .ifindex = dev->ifindex, .listen_port = o->listen_port, .kc = kc,
				  .node_name = o->node_name };
	struct mesh_ops ops = node_device_ops;
	struct node_watch w = { .kc = kc, .self_fn = node_device_self, .listed_fn = node_device_sweep,
				.stop = &r->stop };
	struct mesh mesh;
	char key[KEY_B64_LEN + 1];

	snprintf(nd.ifname, sizeof(nd.ifname), "%s", o->ifname);
	memcpy(nd.public_key, pub, 32);
	ops.ctx = &nd;
	mesh_init(&mesh, o->node_name, &ops);
	nd.mesh = &mesh;
	w.mesh = &mesh;
	w.self_ctx = &nd;
	key_to_base64(key, pub);
	printf("[#] xwg: node-agent: %s up for node %s (public key %s, port %u), API server %s\n", o->ifname,
	       o->node_name, key, o->listen_port, kc->server);
	fflush(stdout);
	node_watch_run(&w);
	mesh_free(&mesh);
}

int cmd_node_agent(int argc, char *argv[])
{
	struct node_opts o;
	struct kube_config kc;
	struct node_run r = { .ret = 0 };
	uint8_t pub[32];
	pthread_t th;
	int ret;

	if (node_opts_parse(argc, argv, &o))
		return 1;
	if (kube_http_init()) {
		fprintf(stderr, "xwg: node-agent: cannot initialise libcurl\n");
		return 1;
	}
	r.dev = calloc(1, sizeof(*r.dev));
	if (!r.dev)
		return 1;
	atomic_init(&r.stop, false);
	ret = node_agent_up(&o, r.dev, &kc, pub);
	if (ret)
		goto out;
	ret = pthread_create(&th, NULL, node_device_thread, &r);
	if (ret) {
		fprintf(stderr, "xwg: node-agent: cannot start the device thread: %s\n", strerror(ret));
		device_uninit(r.dev);
		metrics_http_stop();
		kube_config_free(&kc);
		goto out;
	}
	node_agent_watch(&o, r.dev, &kc, pub, &r);
	pthread_join(th, NULL);
	kube_config_free(&kc);
	ret = r.ret;
	if (!ret)
		fprintf(stderr, "xwg: node-agent: stopped; %s stays up for the next agent to adopt\n", o.ifname);
out:
	crypto_zero(r.dev, sizeof(*r.dev));
	free(r.dev);
	return ret ? 1 : 0;
}
