/* SPDX-License-Identifier: GPL-2.0 */
/* No copy of a configuration file's keys in freed heap: free() and realloc() interposed, every freed block scanned. */
/* xwg-needs: root (the UAPI socket under /run/wireguard) */
/* gcc says __SANITIZE_ADDRESS__, clang (the SANITIZE=1 build) __has_feature(address_sanitizer). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TEST_UNDER_ASAN)
#include <stdio.h>
/* AddressSanitizer owns free() and realloc(): this test cannot replace them there (SANITIZE=1). */
int main(void)
{
	printf("# skipped: replaces free()/realloc(), which AddressSanitizer owns; the normal build runs it\n");
	return 77;
}
#else
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>
#include "test.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "config.h"
#include "device.h"
#include "encoding.h"
#include "uapi.h"

/*
 * glibc lets a program replace free() and realloc(), for its own calls too (stdio's buffers
 * included). While scanning is on, every block is searched for the keys before it goes back
 * to glibc's allocator (__libc_free / __libc_malloc: usable before any constructor ran).
 */
extern void __libc_free(void *p);
extern void *__libc_malloc(size_t n);
/* volatile: the compiler takes free() for a builtin that reads no globals, and would drop the stores. */
static volatile bool scanning;
static volatile size_t leaks;
static const void *needles[5];
static size_t needle_len[5], n_needles;

static void secrets_scan(const void *p, size_t len)
{
	for (size_t i = 0; i < n_needles; i++)
		if (memmem(p, len, needles[i], needle_len[i]))
			leaks++;
}

void free(void *p)
{
	if (p && scanning)
		secrets_scan(p, malloc_usable_size(p));
	__libc_free(p);
}

/* Always moves, so every old block passes through free() above. */
void *realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return __libc_malloc(n);
	if (!n) {
		free(p);
		return NULL;
	}
	q = __libc_malloc(n);
	if (!q)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	free(p);
	return q;
}

static uint8_t priv[32], psk[32];
static char priv_b64[KEY_B64_LEN + 1], psk_b64[KEY_B64_LEN + 1], priv_hex[KEY_HEX_LEN + 1];

static void keys_setup(void)
{
	for (int i = 0; i < 32; i++) {
		priv[i] = (uint8_t)(0x31 + i * 7);
		psk[i] = (uint8_t)(0x92 + i * 3);
	}
	priv[0] &= 248;		/* clamped, so the agent's get returns it unchanged */
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
	key_to_base64(priv_b64, priv);
	key_to_base64(psk_b64, psk);
	needles[0] = priv_b64, needle_len[0] = strlen(priv_b64);
	needles[1] = psk_b64, needle_len[1] = strlen(psk_b64);
	needles[2] = priv, needle_len[2] = sizeof(priv);
	needles[3] = psk, needle_len[3] = sizeof(psk);
	key_to_hex(priv_hex, priv);
	needles[4] = priv_hex, needle_len[4] = strlen(priv_hex);
	n_needles = 5;
}

/* A config file with both keys; pad comment bytes push it past the reader's first buffer. */
static void write_config(const char *path, size_t pad, const char *tail)
{
	FILE *f = fopen(path, "w");

	if (!f)
		abort();
	fprintf(f, "[Interface]\nPrivateKey = %s\nListenPort = 51820\n", priv_b64);
	for (size_t i = 0; i < pad; i += 64)
		fprintf(f, "# %061zu\n", i);
	fprintf(f, "\n[Peer]\nPublicKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n"
		   "PresharedKey = %s\nAllowedIPs = 10.0.0.2/32\n%s", psk_b64, tail);
	fclose(f);
}

static size_t parse_and_free(const char *path, int want)
{
	struct xwg_config cfg;
	char err[256];
	int ret;

	leaks = 0;
	scanning = true;
	ret = config_parse_file(&cfg, path, err, sizeof(err));
	if (!ret) {
		ASSERT_TRUE(cfg.has_private_key);
		ASSERT_MEMEQ(cfg.private_key, priv, 32);
	}
	config_free(&cfg);
	scanning = false;
	if (ret != want)
		printf("# %s\n", err);
	ASSERT_EQ(ret, want);
	return leaks;
}

static char dir[64], path[96];

/* Small and large (grown buffer) files, parsed and freed: no freed block held a key. */
static void test_config_parse(void)
{
	write_config(path, 0, "");
	ASSERT_EQ(parse_and_free(path, 0), 0);
	write_config(path, 20000, "");
	ASSERT_EQ(parse_and_free(path, 0), 0);
}

/* A file that fails to parse after the keys takes the error path: wiped there too. */
static void test_config_error(void)
{
	write_config(path, 9000, "Bogus = 1\n");
	ASSERT_EQ(parse_and_free(path, -EINVAL), 0);
}

/*
 * The UAPI socket, as wg uses it: a set with the private key and a get that returns it. The
 * agent's stdio buffers saw the key both ways; nothing freed may still hold it.
 */
static void test_uapi_socket(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct xwg_device dev;
	char req[256], reply[4096];
	size_t len = 0;
	ssize_t n;
	int fd;

	memset(&dev, 0, sizeof(dev));
	dev.tun_fd = dev.sock4 = dev.sock6 = dev.epoll_fd = dev.uapi_fd = dev.signal_fd = -1;
	allowedips_init(&dev.allowedips);
	ASSERT_EQ(index_table_init(&dev.index_table), 0);
	snprintf(dev.ifname, sizeof(dev.ifname), "xsec%d", (int)getpid() % 100000);
	ASSERT_EQ(uapi_listen(&dev), 0);
	if (dev.uapi_fd < 0)
		return;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", dev.uapi_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\n\nget=1\n\n", priv_hex);
	ASSERT_EQ(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	leaks = 0;
	scanning = true;
	uapi_accept(&dev);
	scanning = false;
	while (len < sizeof(reply) - 1 && (n = read(fd, reply + len, sizeof(reply) - 1 - len)) > 0)
		len += (size_t)n;
	reply[len] = '\0';
	close(fd);
	/* The get answered with the key, so it went through the agent's output buffer. */
	ASSERT_TRUE(strstr(reply, priv_hex) != NULL);
	ASSERT_EQ(leaks, 0);
	device_uninit(&dev);
}

/* The scanner itself: a key freed as is must be found, or the tests above prove nothing. */
static void test_scanner(void)
{
	char *volatile copy = strdup(priv_b64);

	leaks = 0;
	scanning = true;
	free(copy);
	scanning = false;
	ASSERT_EQ(leaks, 1);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/xwg-secrets-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/xwgs0.conf", dir);
	keys_setup();
	RUN_TEST(test_scanner);
	RUN_TEST(test_config_parse);
	RUN_TEST(test_config_error);
	RUN_TEST(test_uapi_socket);
	unlink(path);
	rmdir(dir);
	return TEST_SUMMARY();
}
#endif /* ASan */
