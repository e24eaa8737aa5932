/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the wg-quick config parser: valid files, case and comments, and every error message. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "config.h"
#include "path.h"

#define KEY1 "BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0xZZnOAjZo="
#define KEY1_HEX "0714212e3b4855626f7c8996a3b0bdcad7e4f1fe0b1825323f4c596673808d9a"
#define KEY2 "DhsoNUJPXGl2g5CdqrfE0d7r+AUSHyw5RlNgbXqHlKE="
#define KEY2_HEX "0e1b2835424f5c697683909daab7c4d1deebf805121f2c394653606d7a8794a1"
#define KEY3 "FSIvPElWY3B9ipeksb7L2OXy/wwZJjNATVpndIGOm6g="
#define KEY3_HEX "15222f3c495663707d8a97a4b1becbd8e5f2ff0c192633404d5a6774818e9ba8"
#define KEY4 "HCk2Q1BdaneEkZ6ruMXS3+z5BhMgLTpHVGFue4iVoq8="
#define KEY4_HEX "1c293643505d6a7784919eabb8c5d2dfecf90613202d3a4754616e7b8895a2af"

static const char full_config[] =
	"[Interface]\n"
	"PrivateKey = " KEY1 "\n"
	"ListenPort = 51820\n"
	"Address = 10.0.0.1/24, fd00::1/64\n"
	"MTU = 1420\n"
	"FwMark = 0x1234\n"
	"Mode = xdp-generic\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " KEY2 "\n"
	"PresharedKey = " KEY3 "\n"
	"AllowedIPs = 10.0.0.2/32, 192.168.7.0/24, fd00::2/128\n"
	"Endpoint = 192.0.2.1:51821\n"
	"PersistentKeepalive = 25\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " KEY4 "\n"
	"AllowedIPs = fd00:1234::/48\n"
	"AllowedIPs = 10.99.0.0/16\n"
	"Endpoint = [2001:db8::1]:4242\n";

static void check_prefix(const struct xwg_prefix *p, int family, const char *addr, int cidr)
{
	uint8_t want[16] = { 0 };

	ASSERT_EQ(p->family, family);
	ASSERT_EQ(p->cidr, cidr);
	ASSERT_EQ(inet_pton(family, addr, want), 1);
	ASSERT_MEMEQ(p->addr, want, family == AF_INET ? 4 : 16);
}

static void test_full_config(void)
{
	struct xwg_config cfg;
	struct xwg_config_peer *p1, *p2;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	uint8_t key[32];
	char err[256] = "";
	uint8_t v6[16];

	ASSERT_EQ(config_parse_string(&cfg, "wg0.conf", full_config, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_STREQ(cfg.ifname, "wg0");
	ASSERT_TRUE(cfg.has_private_key);
	test_unhex(key, KEY1_HEX);
	ASSERT_MEMEQ(cfg.private_key, key, 32);
	ASSERT_TRUE(cfg.has_listen_port);
	ASSERT_EQ(cfg.listen_port, 51820);
	ASSERT_EQ(cfg.mtu, 1420);
	ASSERT_EQ(cfg.fwmark, 0x1234);
	ASSERT_STREQ(cfg.mode, "xdp-generic");
	ASSERT_EQ(cfg.n_addresses, 2);
	if (cfg.n_addresses == 2) {
		/* Addresses keep their host bits: they are what goes on the interface. */
		check_prefix(&cfg.addresses[0], AF_INET, "10.0.0.1", 24);
		check_prefix(&cfg.addresses[1], AF_INET6, "fd00::1", 64);
	}

	ASSERT_EQ(cfg.n_peers, 2);
	p1 = cfg.peers;
	ASSERT_TRUE(p1 != NULL);
	if (!p1)
		return;
	test_unhex(key, KEY2_HEX);
	ASSERT_MEMEQ(p1->public_key, key, 32);
	ASSERT_TRUE(p1->has_preshared_key);
	test_unhex(key, KEY3_HEX);
	ASSERT_MEMEQ(p1->preshared_key, key, 32);
	ASSERT_EQ(p1->persistent_keepalive, 25);
	ASSERT_EQ(p1->n_allowed_ips, 3);
	if (p1->n_allowed_ips == 3) {
		check_prefix(&p1->allowed_ips[0], AF_INET, "10.0.0.2", 32);
		check_prefix(&p1->allowed_ips[1], AF_INET, "192.168.7.0", 24);
		check_prefix(&p1->allowed_ips[2], AF_INET6, "fd00::2", 128);
	}
	ASSERT_TRUE(p1->has_endpoint);
	sin = (const struct sockaddr_in *)&p1->endpoint;
	ASSERT_EQ(sin->sin_family, AF_INET);
	ASSERT_EQ(ntohs(sin->sin_port), 51821);
	ASSERT_EQ(ntohl(sin->sin_addr.s_addr), 0xc0000201);

	p2 = p1->next;
	ASSERT_TRUE(p2 != NULL);
	if (!p2)
		goto out;
	ASSERT_TRUE(p2->next == NULL);
	test_unhex(key, KEY4_HEX);
	ASSERT_MEMEQ(p2->public_key, key, 32);
	ASSERT_FALSE(p2->has_preshared_key);
	ASSERT_EQ(p2->persistent_keepalive, 0);
	/* Repeated AllowedIPs lines accumulate, as with wg. */
	ASSERT_EQ(p2->n_allowed_ips, 2);
	if (p2->n_allowed_ips == 2) {
		check_prefix(&p2->allowed_ips[0], AF_INET6, "fd00:1234::", 48);
		check_prefix(&p2->allowed_ips[1], AF_INET, "10.99.0.0", 16);
	}
	ASSERT_TRUE(p2->has_endpoint);
	sin6 = (const struct sockaddr_in6 *)&p2->endpoint;
	ASSERT_EQ(sin6->sin6_family, AF_INET6);
	ASSERT_EQ(ntohs(sin6->sin6_port), 4242);
	ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::1", v6), 1);
	ASSERT_MEMEQ(&sin6->sin6_addr, v6, 16);
out:
	config_free(&cfg);
	ASSERT_TRUE(cfg.peers == NULL);
	ASSERT_EQ(cfg.n_peers, 0);
}

static void test_case_comments_whitespace(void)
{
	static const char text[] =
		"# a leading comment\r\n"
		"   [ interface ]   # trailing comment\r\n"
		"privatekey=" KEY1 "#no space before the comment\n"
		"\tLISTENPORT\t=\t0\t\n"
		"address =10.1.2.3/8 ,fd00::9/120,  10.4.5.6\n"
		"mtu = 68\n"
		"fwmark = off\n"
		"MODE = TUN\n"
		"\n"
		"   \t\n"
		"[PEER]\n"
		"publickey = " KEY2 "\n"
		"allowedips = 10.200.1.77/16  ,  fd00:ab:cd::1/40\n"
		"allowedips =\n"
		"persistentkeepalive = off\n"
		"endpoint = localhost:65535\n";
	struct xwg_config cfg;
	char err[256] = "";

	ASSERT_EQ(config_parse_string(&cfg, "/etc/wireguard/my-vpn_1.conf", text, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_STREQ(cfg.ifname, "my-vpn_1");
	ASSERT_TRUE(cfg.has_private_key);
	ASSERT_TRUE(cfg.has_listen_port);
	ASSERT_EQ(cfg.listen_port, 0);
	ASSERT_EQ(cfg.mtu, 68);
	ASSERT_EQ(cfg.fwmark, 0);
	ASSERT_STREQ(cfg.mode, "tun");
	ASSERT_EQ(cfg.n_addresses, 3);
	if (cfg.n_addresses == 3) {
		check_prefix(&cfg.addresses[0], AF_INET, "10.1.2.3", 8);
		check_prefix(&cfg.addresses[1], AF_INET6, "fd00::9", 120);
		check_prefix(&cfg.addresses[2], AF_INET, "10.4.5.6", 32);
	}
	ASSERT_EQ(cfg.n_peers, 1);
	if (cfg.peers) {
		const struct xwg_config_peer *p = cfg.peers;

		/* Allowed IPs are masked to their prefix. */
		ASSERT_EQ(p->n_allowed_ips, 2);
		if (p->n_allowed_ips == 2) {
			check_prefix(&p->allowed_ips[0], AF_INET, "10.200.0.0", 16);
			check_prefix(&p->allowed_ips[1], AF_INET6, "fd00:ab::", 40);
		}
		ASSERT_EQ(p->persistent_keepalive, 0);
		ASSERT_TRUE(p->has_endpoint);
		ASSERT_EQ(ntohs(((const struct sockaddr_in *)&p->endpoint)->sin_port), 65535);
	}
	config_free(&cfg);
}

static void test_minimal_and_defaults(void)
{
	struct xwg_config cfg;
	char err[256] = "";

	/* An empty file is a valid (empty) config: wg setconf accepts it too. */
	ASSERT_EQ(config_parse_string(&cfg, "wg9", "", err, sizeof(err)), 0);
	ASSERT_STREQ(cfg.ifname, "wg9");
	ASSERT_FALSE(cfg.has_private_key);
	ASSERT_FALSE(cfg.has_listen_port);
	ASSERT_EQ(cfg.mtu, 0);
	ASSERT_STREQ(cfg.mode, "");
	ASSERT_STREQ(cfg.underlay, "");
	ASSERT_EQ(cfg.n_peers, 0);
	config_free(&cfg);

	/* Underlay: names in file order, repeated keys add up. */
	ASSERT_EQ(config_parse_string(&cfg, "u", "[Interface]\nUnderlay = eth0 , veth-pod1\nunderlay=bond0\n", err,
				      sizeof(err)), 0);
	ASSERT_STREQ(cfg.underlay, "eth0,veth-pod1,bond0");
	config_free(&cfg);

	ASSERT_EQ(config_parse_string(&cfg, "a", "[Interface]\nFwMark = 4294967295\nMode = auto\n"
				      "[Interface]\nListenPort = 1\n", err, sizeof(err)), 0);
	ASSERT_EQ(cfg.fwmark, 0xffffffffu);
	ASSERT_EQ(cfg.listen_port, 1);
	ASSERT_STREQ(cfg.mode, "auto");
	config_free(&cfg);

	ASSERT_EQ(config_parse_string(&cfg, "a", "[Interface]\nFwMark = 0XfFfF\n", err, sizeof(err)), 0);
	ASSERT_EQ(cfg.fwmark, 0xffff);
	config_free(&cfg);
}

struct bad_case {
	const char *text;
	const char *error;
};

#define IF "[Interface]\n"
#define PEER2 "[Peer]\nPublicKey = " KEY2 "\n"

static const struct bad_case bad_cases[] = {
	{ IF "PrivateKey = " KEY1 "\nEndpont = 1.2.3.4:5\n", "wg0.conf:3: unknown key 'Endpont'" },
	{ PEER2 "Endpont = 1.2.3.4:5\n", "wg0.conf:3: unknown key 'Endpont'" },
	{ IF "ListenPort = 51820\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = " KEY2 "\nEndpont = 1.2.3.4:5\n",
	  "wg0.conf:6: unknown key 'Endpont'" },
	/* Interface keys are not valid in a [Peer] and vice versa. */
	{ PEER2 "ListenPort = 1\n", "wg0.conf:3: unknown key 'ListenPort'" },
	{ IF "AllowedIPs = 10.0.0.0/8\n", "wg0.conf:2: unknown key 'AllowedIPs'" },
	{ "\n# c\nPrivateKey = " KEY1 "\n", "wg0.conf:3: key 'PrivateKey' outside a section" },
	{ IF "\n\nPrivateKey = xyz\n", "wg0.conf:4: invalid PrivateKey" },
	/* 43 characters, 45 characters, non-zero padding bits, bad alphabet. */
	{ IF "PrivateKey = BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0xZZnOAjZo\n", "wg0.conf:2: invalid PrivateKey" },
	{ IF "PrivateKey = BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0xZZnOAjZo==\n", "wg0.conf:2: invalid PrivateKey" },
	{ IF "PrivateKey = BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0xZZnOAjZp=\n", "wg0.conf:2: invalid PrivateKey" },
	{ IF "PrivateKey = BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0x!ZnOAjZo=\n", "wg0.conf:2: invalid PrivateKey" },
	{ IF "PrivateKey =\n", "wg0.conf:2: invalid PrivateKey" },
	{ "[Peer]\nPublicKey = " KEY2 "x\n", "wg0.conf:2: invalid PublicKey" },
	{ PEER2 "PresharedKey = nope\n", "wg0.conf:3: invalid PresharedKey" },
	{ IF "ListenPort = 65536\n", "wg0.conf:2: invalid ListenPort '65536'" },
	{ IF "ListenPort = -1\n", "wg0.conf:2: invalid ListenPort '-1'" },
	{ IF "ListenPort = 51820x\n", "wg0.conf:2: invalid ListenPort '51820x'" },
	{ IF "ListenPort =\n", "wg0.conf:2: invalid ListenPort ''" },
	{ IF "ListenPort = 99999999999999999999999\n", "wg0.conf:2: invalid ListenPort '99999999999999999999999'" },
	{ IF "MTU = 0\n", "wg0.conf:2: invalid MTU '0' (68..65535)" },
	{ IF "MTU = 67\n", "wg0.conf:2: invalid MTU '67' (68..65535)" },
	{ IF "MTU = 65536\n", "wg0.conf:2: invalid MTU '65536' (68..65535)" },
	{ IF "MTU = big\n", "wg0.conf:2: invalid MTU 'big' (68..65535)" },
	{ IF "FwMark = 0x100000000\n", "wg0.conf:2: invalid FwMark '0x100000000'" },
	{ IF "FwMark = 4294967296\n", "wg0.conf:2: invalid FwMark '4294967296'" },
	{ IF "FwMark = 0x\n", "wg0.conf:2: invalid FwMark '0x'" },
	{ IF "FwMark = 0x-1\n", "wg0.conf:2: invalid FwMark '0x-1'" },
	{ IF "FwMark = on\n", "wg0.conf:2: invalid FwMark 'on'" },
	{ IF "Mode = fast\n", "wg0.conf:2: invalid Mode 'fast' (auto, xdp, xdp-generic, tc or tun)" },
	{ IF "Underlay = eth0,,eth1\n", "wg0.conf:2: empty element in Underlay" },
	{ IF "Underlay = averyveryverylongname\n", "wg0.conf:2: invalid Underlay interface name 'averyveryverylongname'" },
	{ IF "Underlay = ../x\n", "wg0.conf:2: invalid Underlay interface name '../x'" },
	{ IF "Address = 10.0.0.1/33\n", "wg0.conf:2: invalid Address '10.0.0.1/33'" },
	{ IF "Address = 10.0.0.1/24, fd00::1/129\n", "wg0.conf:2: invalid Address 'fd00::1/129'" },
	{ IF "Address = 10.0.0.1/24,,10.0.0.2\n", "wg0.conf:2: empty element in Address" },
	{ IF "Address = 10.0.0.1/24,\n", "wg0.conf:2: empty element in Address" },
	{ PEER2 "AllowedIPs = 10.0.0.0/8, 300.1.2.3/32\n", "wg0.conf:3: invalid AllowedIPs '300.1.2.3/32'" },
	{ PEER2 "AllowedIPs = 10.0.0.0/\n", "wg0.conf:3: invalid AllowedIPs '10.0.0.0/'" },
	{ PEER2 "AllowedIPs = host.example\n", "wg0.conf:3: invalid AllowedIPs 'host.example'" },
	{ PEER2 "Endpoint = 1.2.3.4\n", "wg0.conf:3: invalid Endpoint '1.2.3.4'" },
	{ PEER2 "Endpoint = 1.2.3.4:65536\n", "wg0.conf:3: invalid Endpoint '1.2.3.4:65536'" },
	{ PEER2 "Endpoint = fd00::1:51820\n", "wg0.conf:3: invalid Endpoint 'fd00::1:51820'" },
	{ PEER2 "PersistentKeepalive = 65536\n", "wg0.conf:3: invalid PersistentKeepalive '65536'" },
	{ PEER2 "PersistentKeepalive = 25s\n", "wg0.conf:3: invalid PersistentKeepalive '25s'" },
	{ IF "PrivateKey = " KEY1 "\n\n[Peer]\nAllowedIPs = 10.0.0.0/8\n\n[Peer]\nPublicKey = " KEY2 "\n",
	  "wg0.conf:4: [Peer] without PublicKey" },
	{ PEER2 "[Peer]\n# nothing\n", "wg0.conf:3: [Peer] without PublicKey" },
	{ PEER2 "[Peer]\nPublicKey = " KEY3 "\n[Peer]\nPublicKey = " KEY2 "\n",
	  "wg0.conf:6: duplicate peer PublicKey" },
	{ PEER2 "PublicKey = " KEY3 "\n", "wg0.conf:3: PublicKey given twice in one [Peer]" },
	{ IF "DNS = 1.1.1.1, 1.2.3\n", "wg0.conf:2: invalid DNS server '1.2.3'" },
	{ IF "DNS = fd00::1/64\n", "wg0.conf:2: invalid DNS server 'fd00::1/64'" },
	{ IF "DNS = corp.example, bad$name\n", "wg0.conf:2: invalid DNS search domain 'bad$name'" },
	{ IF "DNS = 1.1.1.1,,8.8.8.8\n", "wg0.conf:2: empty element in DNS" },
	{ IF "Table = 0\n", "wg0.conf:2: invalid Table '0' (auto, off, main or a table number)" },
	{ IF "Table = vpn\n", "wg0.conf:2: invalid Table 'vpn' (auto, off, main or a table number)" },
	{ IF "SaveConfig = yes\n", "wg0.conf:2: invalid SaveConfig 'yes' (true or false)" },
	/* A key whose '=' is missing must not end up in the message, whatever the line looks like. */
	{ IF "PrivateKey " KEY1 "\n", "wg0.conf:2: expected 'Key = Value'" },
	{ IF "ListenPort 51820\n", "wg0.conf:2: expected 'Key = Value'" },
	{ IF KEY1 "\n", "wg0.conf:2: expected 'Key = Value'" },
	{ IF "HCk2Q1BdaneEkZ6ruMXS3z5BhMgLTpHVGFue4iVoq8=\n", "wg0.conf:2: expected 'Key = Value'" },
	{ IF "Listen-Port = 1\n", "wg0.conf:2: expected 'Key = Value'" },
	{ IF "= 5\n", "wg0.conf:2: missing key before '='" },
	{ "[Interface\n", "wg0.conf:1: malformed section header '[Interface'" },
	{ "[Interface] x\n", "wg0.conf:1: malformed section header '[Interface] x'" },
	{ "[Peers]\n", "wg0.conf:1: unknown section '[Peers]'" },
	{ "[]\n", "wg0.conf:1: unknown section '[]'" },
};

static void test_bad_inputs(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct xwg_config cfg, zero;
		char err[256] = "";

		memset(&cfg, 0xa5, sizeof(cfg));
		memset(&zero, 0, sizeof(zero));
		ASSERT_EQ(config_parse_string(&cfg, "wg0.conf", bad_cases[i].text, err, sizeof(err)), -EINVAL);
		ASSERT_STREQ(err, bad_cases[i].error);
		/* Nothing to free on error, and nothing half-filled left behind. */
		ASSERT_MEMEQ(&cfg, &zero, sizeof(cfg));
	}
}

static void test_bad_names(void)
{
	static const char *const names[] = {
		"", ".conf", "0123456789abcdef.conf", "0123456789abcdef", "/etc/wireguard/bad name.conf",
		"wg/", "wg:0.conf", "wg%d",
	};
	struct xwg_config cfg;
	char err[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(config_parse_string(&cfg, names[i], "", err, sizeof(err)), -EINVAL);
		ASSERT_TRUE(strstr(err, "not a valid interface name") != NULL);
	}
	ASSERT_EQ(config_parse_string(&cfg, "0123456789abcde.conf", "", err, sizeof(err)), 0);
	ASSERT_STREQ(cfg.ifname, "0123456789abcde");
	config_free(&cfg);
	ASSERT_EQ(config_parse_string(&cfg, "a=b+c.d-e_f", "", err, sizeof(err)), 0);
	ASSERT_STREQ(cfg.ifname, "a=b+c.d-e_f");
	config_free(&cfg);

	/* A small error buffer truncates instead of overflowing; NULL is allowed. */
	ASSERT_EQ(config_parse_string(&cfg, "wg0.conf", "[Peerz]\n", err, 8), -EINVAL);
	ASSERT_STREQ(err, "wg0.con");
	ASSERT_EQ(config_parse_string(&cfg, "wg0.conf", "[Peerz]\n", NULL, 0), -EINVAL);
}

static void test_parse_file(void)
{
	char dir[] = "/tmp/xwg-test-config-XXXXXX", path[128], err[256] = "";
	struct xwg_config cfg;
	FILE *f;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/wg7.conf", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (!f)
		return;
	fputs(full_config, f);
	fclose(f);
	ASSERT_EQ(config_parse_file(&cfg, path, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_STREQ(cfg.ifname, "wg7");
	ASSERT_EQ(cfg.n_peers, 2);
	ASSERT_EQ(cfg.listen_port, 51820);
	config_free(&cfg);

	/* Errors name the file by its base name. */
	f = fopen(path, "w");
	if (f) {
		fputs("[Interface]\nListenPort = 51820\n\n[Peer]\nPublicKey = " KEY2 "\nEndpont = x\n", f);
		fclose(f);
	}
	ASSERT_EQ(config_parse_file(&cfg, path, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "wg7.conf:6: unknown key 'Endpont'");

	/* A NUL byte means this is not a text config. */
	f = fopen(path, "w");
	if (f) {
		fwrite("[Interface]\n\0ListenPort = 1\n", 1, 28, f);
		fclose(f);
	}
	ASSERT_EQ(config_parse_file(&cfg, path, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "wg7.conf: contains a NUL byte");
	unlink(path);

	ASSERT_EQ(config_parse_file(&cfg, path, err, sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "wg7.conf: No such file or directory");
	rmdir(dir);
}

/* wg-quick's keys: DNS split into servers and search domains, Table, SaveConfig, hooks in order. */
static void test_quick_keys(void)
{
	static const char text[] =
		"[Interface]\nPrivateKey = " KEY1 "\nDNS = 10.0.0.53, fd00::53,corp.example\n"
		"dns = lab.example\nTable = 1234\nSaveConfig = TRUE\n"
		"PostUp = ip rule add from 10.0.0.1 table 7 # comment\nPreUp = echo a=b\npostup = echo %i\n"
		"PreDown = x\nPostDown = y\n[Peer]\nPublicKey = " KEY2 "\nAllowedIPs = 0.0.0.0/0, ::/0\n";
	struct xwg_config cfg;
	char err[256] = "", buf[64];

	ASSERT_EQ(config_parse_string(&cfg, "wg0", text, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_EQ(cfg.n_dns, 2);
	prefix_format(buf, sizeof(buf), &cfg.dns[0]);
	ASSERT_STREQ(buf, "10.0.0.53/32");
	prefix_format(buf, sizeof(buf), &cfg.dns[1]);
	ASSERT_STREQ(buf, "fd00::53/128");
	ASSERT_EQ(cfg.n_dns_search, 2);
	ASSERT_STREQ(cfg.dns_search[0], "corp.example");
	ASSERT_STREQ(cfg.dns_search[1], "lab.example");
	ASSERT_EQ(cfg.table_mode, XWG_TABLE_ID);
	ASSERT_EQ(cfg.table, 1234);
	ASSERT_TRUE(cfg.has_table && cfg.save_config);
	ASSERT_EQ(cfg.n_hooks[XWG_HOOK_PRE_UP], 1);
	ASSERT_STREQ(cfg.hooks[XWG_HOOK_PRE_UP][0], "echo a=b");
	ASSERT_EQ(cfg.n_hooks[XWG_HOOK_POST_UP], 2);
	ASSERT_STREQ(cfg.hooks[XWG_HOOK_POST_UP][0], "ip rule add from 10.0.0.1 table 7");
	ASSERT_STREQ(cfg.hooks[XWG_HOOK_POST_UP][1], "echo %i");
	ASSERT_STREQ(cfg.hooks[XWG_HOOK_PRE_DOWN][0], "x");
	ASSERT_STREQ(cfg.hooks[XWG_HOOK_POST_DOWN][0], "y");
	/* A default route is a full tunnel now, not an error. */
	ASSERT_EQ(cfg.peers->n_allowed_ips, 2);
	ASSERT_EQ(cfg.peers->allowed_ips[0].cidr, 0);
	config_free(&cfg);

	ASSERT_EQ(config_parse_string(&cfg, "wg0", "[Interface]\nTable = off\n", err, sizeof(err)), 0);
	ASSERT_TRUE(cfg.table_mode == XWG_TABLE_OFF && cfg.has_table);
	config_free(&cfg);
	ASSERT_EQ(config_parse_string(&cfg, "wg0", "[Interface]\nTable = main\n", err, sizeof(err)), 0);
	ASSERT_TRUE(cfg.table_mode == XWG_TABLE_ID && cfg.table == 254);
	config_free(&cfg);
	ASSERT_EQ(config_parse_string(&cfg, "wg0", "[Interface]\n", err, sizeof(err)), 0);
	ASSERT_TRUE(cfg.table_mode == XWG_TABLE_AUTO && !cfg.has_table && !cfg.save_config);
	config_free(&cfg);
}

/* strip drops wg-quick's and xwg's [Interface] keys, nothing of [Peer], and keeps lines as written. */
static void test_strip(void)
{
	static const char text[] =
		"# head\n[Interface]\nPrivateKey = " KEY1 "\nAddress = 10.0.0.1/24 # mine\n  mtu=1400\n"
		"Mode = tun\nListenPort = 5\nPostUp = a=b\n[Peer]\nPublicKey = " KEY2 "\n"
		"Endpoint = 127.0.0.1:1 , [::1]:2 # two paths\nPathPolicy = lowest-rtt\npathprobeinterval=2\n";
	static const char want[] =
		"# head\n[Interface]\nPrivateKey = " KEY1 "\nListenPort = 5\n[Peer]\nPublicKey = " KEY2 "\n"
		"Endpoint = 127.0.0.1:1\n";
	char dir[] = "/tmp/xwg-test-strip-XXXXXX", path[64], err[256] = "", *out = NULL;
	size_t len = 0;
	FILE *f, *mem;

	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/wg0.conf", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	mem = open_memstream(&out, &len);
	ASSERT_EQ(config_strip(path, mem, err, sizeof(err)), 0);
	fclose(mem);
	ASSERT_STREQ(out, want);
	free(out);

	/* A file the parser refuses is not stripped: the error names the line, nothing is written. */
	f = fopen(path, "w");
	fputs("[Interface]\nTable = nope\n", f);
	fclose(f);
	out = NULL;
	mem = open_memstream(&out, &len);
	ASSERT_EQ(config_strip(path, mem, err, sizeof(err)), -EINVAL);
	fclose(mem);
	ASSERT_STREQ(out, "");
	ASSERT_TRUE(strstr(err, ":2: invalid Table 'nope'") != NULL);
	free(out);
	unlink(path);
	rmdir(dir);
}

/* Endpoint lists and the path keys (an xwg extension, path.h). */
static void test_multipath_keys(void)
{
	static const char *const bad[] = {
		"[Peer]\nPublicKey = " KEY2 "\nEndpoint = 127.0.0.1:1, 127.0.0.1:2, 127.0.0.1:3, 127.0.0.1:4, 127.0.0.1:5\n",
		"[Peer]\nPublicKey = " KEY2 "\nEndpoint = 127.0.0.1:1,\n",
		"[Peer]\nPublicKey = " KEY2 "\nEndpoint = 127.0.0.1:1,,127.0.0.1:2\n",
		"[Peer]\nPublicKey = " KEY2 "\nEndpoint = 127.0.0.1:1, nonsense\n",
		"[Peer]\nPublicKey = " KEY2 "\nPathPolicy = fastest\n",
		"[Peer]\nPublicKey = " KEY2 "\nPathProbeInterval = 0\n",
		"[Peer]\nPublicKey = " KEY2 "\nPathProbeInterval = 3601\n",
	};
	struct xwg_config cfg;
	char err[256];

	ASSERT_EQ(config_parse_string(&cfg, "wg0", "[Peer]\nPublicKey = " KEY2 "\n"
				      "Endpoint = 192.0.2.1:1,[2001:db8::1]:2, 192.0.2.3:3\nPathPolicy = Lowest-RTT\n"
				      "PathProbeInterval = 2\n", err, sizeof(err)), 0);
	ASSERT_TRUE(cfg.peers && cfg.peers->has_endpoint);
	if (cfg.peers) {
		ASSERT_EQ(cfg.peers->n_more_endpoints, 2);
		ASSERT_EQ(cfg.peers->more_endpoints[0].ss_family, AF_INET6);
		ASSERT_EQ(cfg.peers->endpoint.ss_family, AF_INET);
		ASSERT_TRUE(cfg.peers->has_path_policy);
		ASSERT_EQ(cfg.peers->path_policy, PATH_POLICY_LOWEST_RTT);
		ASSERT_EQ(cfg.peers->path_probe_interval, 2);
	}
	config_free(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(config_parse_string(&cfg, "wg0", bad[i], err, sizeof(err)), -EINVAL);
		ASSERT_TRUE(strstr(err, "wg0:3:") != NULL);
	}
}

/* Many peers: exercises the file reader's buffer growth and the duplicate scan. */
static void test_many_peers(void)
{
	char path[] = "/tmp/xwg-test-config-XXXXXX", err[256] = "", b64[KEY_B64_LEN + 1];
	struct xwg_config cfg;
	struct xwg_config_peer *p;
	uint8_t key[32] = { 0 };
	size_t n = 0;
	int fd;
	FILE *f;

	fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return;
	fputs("[Interface]\nListenPort = 7\n", f);
	for (int i = 0; i < 1000; i++) {
		key[0] = (uint8_t)i;
		key[1] = (uint8_t)(i >> 8);
		key_to_base64(b64, key);
		fprintf(f, "\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.0/24, fd00::%x/128\n",
			b64, i >> 8, i & 255, i);
	}
	fclose(f);
	/* mkstemp's name is not an interface name, so parse it under a good one. */
	ASSERT_EQ(config_parse_file(&cfg, path, err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "not a valid interface name") != NULL);
	{
		char good[64];

		snprintf(good, sizeof(good), "%s.d", path);
		ASSERT_EQ(mkdir(good, 0700), 0);
		strcat(good, "/big.conf");
		ASSERT_EQ(rename(path, good), 0);
		ASSERT_EQ(config_parse_file(&cfg, good, err, sizeof(err)), 0);
		ASSERT_STREQ(cfg.ifname, "big");
		unlink(good);
		*strrchr(good, '/') = '\0';
		rmdir(good);
	}
	ASSERT_EQ(cfg.n_peers, 1000);
	for (p = cfg.peers; p; p = p->next, n++) {
		if (p->public_key[0] != (uint8_t)n || p->n_allowed_ips != 2) {
			TEST_FAIL("peer %zu out of order or incomplete", n);
			break;
		}
	}
	ASSERT_EQ(n, 1000);
	config_free(&cfg);
}

int main(void)
{
	RUN_TEST(test_full_config);
	RUN_TEST(test_case_comments_whitespace);
	RUN_TEST(test_minimal_and_defaults);
	RUN_TEST(test_bad_inputs);
	RUN_TEST(test_bad_names);
	RUN_TEST(test_parse_file);
	RUN_TEST(test_many_peers);
	RUN_TEST(test_quick_keys);
	RUN_TEST(test_strip);
	RUN_TEST(test_multipath_keys);
	return TEST_SUMMARY();
}
