/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzzes the node agent's kubeconfig parser (kube_config_parse) on any YAML text. */
#include "fuzz.h"
#include "kube_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_config kc;
	char err[512];

	err[0] = '\0';
	/* A base directory that does not exist: relative file names never reach a real file. */
	if (kube_config_parse(&kc, (const char *)data, size, "/nonexistent-xwg-fuzz", "fuzz.kubeconfig",
			      err, sizeof(err)) == 0) {
		FUZZ_ASSERT(kc.server != NULL);
		kube_config_free(&kc);
	} else {
		FUZZ_ASSERT(err[0] != '\0');
	}
	return 0;
}
