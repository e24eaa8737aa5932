// SPDX-License-Identifier: GPL-2.0
/*
 * A foreign TCX ingress program for the netns tests (bpftool 7.1 and this iproute2 cannot attach
 * TCX): "tcx_attach OBJ PROG IFNAME" loads program PROG of OBJ, appends it to IFNAME's TCX
 * ingress chain through a bpf_link, prints the program's id and holds the link until it is killed
 * (no pin, so no bpffs is needed: the link goes when the process does); "tcx_attach query IFNAME"
 * prints the ids on IFNAME's TCX ingress, first to last. Not a test itself.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#endif

static int tcx_query(const char *ifname)
{
	unsigned int ifindex = if_nametoindex(ifname);
	__u32 ids[64], cnt = 64;

	if (!ifindex || bpf_prog_query((int)ifindex, (enum bpf_attach_type)BPF_TCX_INGRESS, 0, NULL, ids, &cnt)) {
		fprintf(stderr, "tcx_attach: query '%s': %s\n", ifname, strerror(errno));
		return 1;
	}
	for (__u32 i = 0; i < cnt; i++)
		printf("%s%u", i ? " " : "", ids[i]);
	printf("\n");
	return 0;
}

/* Only the program asked for is loaded; the object's others stay out of the kernel. */
static struct bpf_program *tcx_pick(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p, *want = NULL;

	bpf_object__for_each_program(p, obj) {
		if (!strcmp(bpf_program__name(p), name))
			want = p;
		else
			bpf_program__set_autoload(p, false);
	}
	return want;
}

static int tcx_attach(const char *file, const char *name, const char *ifname)
{
	unsigned int ifindex = if_nametoindex(ifname);
	struct bpf_object *obj = bpf_object__open_file(file, NULL);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	struct bpf_program *prog;
	int fd, ret = 1;

	if (!ifindex || !obj) {
		fprintf(stderr, "tcx_attach: '%s' or '%s': %s\n", ifname, file, strerror(errno));
		return 1;
	}
	prog = tcx_pick(obj, name);
	if (!prog || bpf_object__load(obj)) {
		fprintf(stderr, "tcx_attach: program '%s' of '%s' not found or not loaded\n", name, file);
		goto out;
	}
	fd = bpf_link_create(bpf_program__fd(prog), (int)ifindex, (enum bpf_attach_type)BPF_TCX_INGRESS, NULL);
	if (fd < 0) {
		fprintf(stderr, "tcx_attach: TCX link on '%s': %s\n", ifname, strerror(errno));
		goto out;
	}
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
		fprintf(stderr, "tcx_attach: program info: %s\n", strerror(errno));
		close(fd);
		goto out;
	}
	printf("%u\n", info.id);
	fflush(stdout);
	/* Held until a signal ends us: closing the last fd detaches the link. */
	for (;;)
		pause();
out:
	bpf_object__close(obj);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "query"))
		return tcx_query(argv[2]);
	if (argc == 4)
		return tcx_attach(argv[1], argv[2], argv[3]);
	fprintf(stderr, "usage: tcx_attach OBJ PROG IFNAME | tcx_attach query IFNAME\n");
	return 2;
}
