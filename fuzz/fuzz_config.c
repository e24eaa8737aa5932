/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzzes the configuration-file parser (config_parse_string): any text, then free; never a crash or leak. */
#include "fuzz.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xwg_config cfg;
	char err[256];
	char *text = fuzz_strndup(data, size);

	err[0] = '\0';
	if (config_parse_string(&cfg, "fuzz.conf", text, err, sizeof(err)) == 0)
		config_free(&cfg);
	else
		FUZZ_ASSERT(err[0] != '\0');	/* every rejection says why */
	free(text);
	return 0;
}
