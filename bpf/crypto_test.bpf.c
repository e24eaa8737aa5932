/* SPDX-License-Identifier: GPL-2.0 */
/* Test-only XDP program: runs the portable ChaCha20-Poly1305 AEAD in BPF over a BPF_PROG_TEST_RUN packet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "chacha20poly1305.h"

/*
 * Packet (all of it is test input, no Ethernet header):
 *   [0, 32)   key
 *   [32, 44)  nonce (RFC 8439 layout); with CT_F_WG, bytes [36, 44) are the LE64 WireGuard counter
 *             and the nonce is built by chacha20_init_wg() as the data path will do it
 *   44        op: CT_OP_ENCRYPT or CT_OP_DECRYPT
 *   45        flags: CT_F_WG
 *   [46, 48)  adlen, LE16, at most CT_MAX_AD
 *   [48, 48 + adlen)           associated data
 *   [48 + adlen, end - 16)     plaintext (encrypt) or ciphertext (decrypt), at most CT_MAX_DATA
 *   [end - 16, end)            room for the tag (encrypt) or the tag (decrypt)
 * The data is rewritten in place. Returns XDP_PASS on success, XDP_DROP on a bad tag,
 * XDP_ABORTED on malformed input.
 */
#define CT_HDR_LEN	48
#define CT_OP_ENCRYPT	1
#define CT_OP_DECRYPT	2
#define CT_OP_AD	3	/* internal: the chunk loop over associated data */
#define CT_F_WG		1
#define CT_MAX_AD	1024
#define CT_MAX_DATA	2048

struct ct_hdr {
	__u8 key[32];
	__u8 nonce[12];
	__u8 op;
	__u8 flags;
	__u16 adlen;
};

/* Per-CPU because AEAD state + scratch (368 bytes) does not fit the 512-byte stack. */
struct ct_scratch {
	struct cc20p1305_ctx aead;
	union cc_block blk;
	__u64 tag[2];
	__u64 want[2];
	struct ct_hdr hdr;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_scratch);
} ct_scratch SEC(".maps");

struct ct_loop {
	struct xdp_md *xdp;
	struct ct_scratch *s;
	__u32 off;		/* packet offset of the region */
	__u32 len;		/* region length */
	__u32 op;
	__u32 err;
};

/*
 * Whole chunks inside the linear area go by plain 64-bit packet loads and stores (unaligned packet
 * access is fine): far cheaper than a helper call plus memcpy per 64 bytes. Returns a pointer to the
 * chunk, or NULL to use the helpers. The offset bound keeps offset + 64 under the verifier's 64 KiB
 * packet-range limit; nothing this program accepts comes near it.
 */
static __always_inline __u64 *ct_pkt_chunk(struct xdp_md *xdp, __u64 off)
{
	__u64 *p;

	if (off >= 0x8000)
		return NULL;
	p = (void *)(long)xdp->data + off;
	if ((void *)(p + 8) > (void *)(long)xdp->data_end)
		return NULL;
	return p;
}

/* One 64-byte chunk (the last may be shorter): into the aligned scratch, transform, back. */
static long ct_chunk(__u32 idx, void *data)
{
	struct ct_loop *lc = data;
	struct ct_scratch *s = lc->s;
	__u64 pos = (__u64)idx * 64, off, n, *p = NULL;
	int i;

	if (pos >= lc->len)
		return 1;
	n = lc->len - pos;
	if (n > 64)
		n = 64;
	/* Hide n's origin so clang keeps a check the verifier can see (n == 0 is impossible). */
	asm volatile("" : "+r"(n));
	if (n == 0 || n > 64)
		return 1;
	off = lc->off + pos;
	if (n == 64)
		p = ct_pkt_chunk(lc->xdp, off);
	if (p) {
		for (i = 0; i < 8; i++)
			s->blk.q[i] = p[i];
	} else if (bpf_xdp_load_bytes(lc->xdp, off, s->blk.q, n)) {
		lc->err = 1;
		return 1;
	}
	if (lc->op == CT_OP_AD) {
		cc20p1305_ad_chunk(&s->aead, &s->blk, (__u32)n);
		return 0;
	}
	if (lc->op == CT_OP_ENCRYPT)
		cc20p1305_encrypt_chunk(&s->aead, &s->blk, (__u32)n);
	else
		cc20p1305_decrypt_chunk(&s->aead, &s->blk, (__u32)n);
	if (p) {
		for (i = 0; i < 8; i++)
			p[i] = s->blk.q[i];
	} else if (bpf_xdp_store_bytes(lc->xdp, off, s->blk.q, n)) {
		lc->err = 1;
		return 1;
	}
	return 0;
}

static int ct_run(struct ct_loop *lc, __u32 op, __u32 off, __u32 len)
{
	lc->op = op;
	lc->off = off;
	lc->len = len;
	lc->err = 0;
	bpf_loop((len + 63) / 64, ct_chunk, lc, 0);
	return lc->err ? -1 : 0;
}

SEC("xdp")
int xwg_crypto_test(struct xdp_md *ctx)
{
	struct ct_loop lc = { .xdp = ctx };
	struct ct_scratch *s;
	__u64 total, adlen, len, tag_off;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&ct_scratch, &zero);
	if (!s)
		return XDP_ABORTED;
	lc.s = s;
	total = bpf_xdp_get_buff_len(ctx);
	if (total < CT_HDR_LEN + CC20P1305_TAG_SIZE ||
	    bpf_xdp_load_bytes(ctx, 0, &s->hdr, CT_HDR_LEN))
		return XDP_ABORTED;
	adlen = s->hdr.adlen;
	if (adlen > CT_MAX_AD || total < CT_HDR_LEN + adlen + CC20P1305_TAG_SIZE)
		return XDP_ABORTED;
	len = total - CT_HDR_LEN - adlen - CC20P1305_TAG_SIZE;
	if (len > CT_MAX_DATA)
		return XDP_ABORTED;
	if (s->hdr.op != CT_OP_ENCRYPT && s->hdr.op != CT_OP_DECRYPT)
		return XDP_ABORTED;

	if (s->hdr.flags & CT_F_WG)
		cc20p1305_init_wg(&s->aead, s->hdr.key, cc_load_le64(s->hdr.nonce + 4));
	else
		cc20p1305_init(&s->aead, s->hdr.key, s->hdr.nonce);

	if (ct_run(&lc, CT_OP_AD, CT_HDR_LEN, adlen) ||
	    ct_run(&lc, s->hdr.op, CT_HDR_LEN + adlen, len))
		return XDP_ABORTED;
	cc20p1305_final(&s->aead, s->tag);

	tag_off = CT_HDR_LEN + adlen + len;
	if (s->hdr.op == CT_OP_ENCRYPT)
		return bpf_xdp_store_bytes(ctx, tag_off, s->tag, 16) ? XDP_ABORTED : XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, tag_off, s->want, 16))
		return XDP_ABORTED;
	return cc20p1305_tag_equal(s->tag, s->want) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
