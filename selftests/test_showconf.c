/* SPDX-License-Identifier: GPL-2.0 */
/* show_conf: a UAPI get reply turned into the file SaveConfig writes (wg showconf's form, wg-quick's lines first). */
#include <errno.h>
#include "test.h"
#include "crypto.h"
#include "show.h"

#define PRIV_HEX "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669"
#define PRIV_B64 "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define PEER1_HEX "c53201039adba14be71f886da1d8dbe9eebded08cb111b75340078999aa9f038"
#define PEER1_B64 "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
#define PEER2_HEX "1690b2870b3d731c16a15e3110bb5f26f8c937ecd05513c84a59515a07a8a551"
#define PEER2_B64 "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

/* show_conf over reply; the output (malloc'd) in *text. */
static int conf_of(const char *reply, const char *extra, char **text)
{
	size_t len = 0;
	FILE *in = fmemopen((void *)reply, strlen(reply), "r");
	FILE *out = open_memstream(text, &len);
	int ret;

	ret = show_conf(in, extra, out);
	fclose(in);
	fclose(out);
	return ret;
}

static void test_full(void)
{
	static const char reply[] =
		"private_key=" PRIV_HEX "\nlisten_port=51820\nfwmark=51820\nxwg_mode=tun\n"
		"public_key=" PEER1_HEX "\npreshared_key=" PEER2_HEX "\nprotocol_version=1\n"
		"endpoint=[2001:db8::1]:4444\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		"rx_bytes=10\ntx_bytes=20\npersistent_keepalive_interval=25\n"
		"allowed_ip=10.0.0.2/32\nallowed_ip=fd00::/64\nxwg_bpf_rx_packets=3\n"
		"public_key=" PEER2_HEX "\npreshared_key=" ZERO_HEX "\npersistent_keepalive_interval=0\n"
		"errno=0\n\n";
	char *text = NULL;

	ASSERT_EQ(conf_of(reply, "Address = 10.0.0.1/24\nSaveConfig = true\n", &text), 0);
	ASSERT_STREQ(text,
		     "[Interface]\nAddress = 10.0.0.1/24\nSaveConfig = true\n"
		     "ListenPort = 51820\nFwMark = 0xca6c\nPrivateKey = " PRIV_B64 "\n"
		     "\n[Peer]\nPublicKey = " PEER1_B64 "\nPresharedKey = " PEER2_B64 "\n"
		     "AllowedIPs = 10.0.0.2/32, fd00::/64\nEndpoint = [2001:db8::1]:4444\nPersistentKeepalive = 25\n"
		     "\n[Peer]\nPublicKey = " PEER2_B64 "\n");
	free(text);
}

/* An agent without key, port or peers: just the section header and the extra lines. */
static void test_empty(void)
{
	char *text = NULL;

	ASSERT_EQ(conf_of("private_key=" ZERO_HEX "\nlisten_port=0\nerrno=0\n\n", NULL, &text), 0);
	ASSERT_STREQ(text, "[Interface]\n");
	free(text);
}

static void test_errors(void)
{
	char *text = NULL;

	ASSERT_EQ(conf_of("listen_port=1\nerrno=-5\n\n", "", &text), -5);
	ASSERT_STREQ(text, "");
	free(text);
	text = NULL;
	/* Cut off before errno, or garbage: nothing is written. */
	ASSERT_EQ(conf_of("private_key=" PRIV_HEX "\nlisten_port=1\n", "", &text), -EPROTO);
	ASSERT_STREQ(text, "");
	free(text);
	text = NULL;
	ASSERT_EQ(conf_of("public_key=zz\nerrno=0\n\n", "", &text), -EPROTO);
	ASSERT_STREQ(text, "");
	free(text);
}

int main(void)
{
	if (crypto_init())
		return 1;
	RUN_TEST(test_full);
	RUN_TEST(test_empty);
	RUN_TEST(test_errors);
	return TEST_SUMMARY();
}
