/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzzes the configuration-socket protocol: any byte stream into uapi_serve on an in-memory device. */
#include "fuzz.h"
#include "device.h"
#include "uapi.h"
#include "test_uapi_serve.h"

/*
 * Linked with --wrap: a fuzzed listen_port= must not bind real UDP ports on the host. The port is
 * recorded as the real function would after a successful bind, so the get that follows reports it.
 */
int __wrap_device_set_listen_port(struct xwg_device *dev, uint16_t port)
{
	dev->listen_port = port;
	dev->requested_port = port;
	return 0;
}

/* A device without TUN, sockets or epoll, as in selftests/test_uapi.c: enough for configuration. */
static void fuzz_dev_setup(struct xwg_device *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = dev->sock4 = dev->sock6 = dev->epoll_fd = dev->uapi_fd = dev->signal_fd = -1;
	allowedips_init(&dev->allowedips);
	if (index_table_init(&dev->index_table))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char get[] = "get=1\n\n";
	struct xwg_device dev;
	char *reply;
	size_t n;

	if (size == 0)
		return 0;	/* fmemopen refuses an empty buffer */
	fuzz_dev_setup(&dev);
	free(test_uapi_serve(&dev, data, size));
	/* Whatever the stream did, the device still answers a get completely and successfully. */
	reply = test_uapi_serve(&dev, get, sizeof(get) - 1);
	n = strlen(reply);
	FUZZ_ASSERT(n >= 10 && !strcmp(reply + n - 10, "\nerrno=0\n\n"));
	free(reply);
	device_uninit(&dev);
	return 0;
}
