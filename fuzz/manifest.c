/*
 * silverlining — fuzzing the manifest decoder (libsl/manifest.c), what a
 * node runs on the bytes a laptop sends. A manifest it accepts must
 * encode to a form that decodes to the same manifest again.
 */
#include <stdlib.h>
#include <string.h>

#include "../libsl/manifest.h"
#include "fuzz.h"

static void decode_again(const struct sl_manifest *m)
{
	struct sl_manifest m2 = SL_MANIFEST_INIT;
	struct sl_buf wire = SL_BUF_INIT, wire2 = SL_BUF_INIT;

	sl_manifest_encode(m, &wire);
	if (sl_manifest_decode(&m2, wire.buf, wire.len, &sl_manifest_default_limits, NULL) < 0)
		abort();	/* what it accepted, encoded, is refused */
	sl_manifest_encode(&m2, &wire2);
	if (m2.n != m->n || m2.files != m->files || m2.file_bytes != m->file_bytes ||
	    wire.len != wire2.len || memcmp(wire.buf, wire2.buf, wire.len))
		abort();	/* the round trip changed it */
	for (size_t i = 0; i < m->n; i++)
		if (sl_manifest_find(&m2, m->v[i].path) != (long)i)
			abort();
	sl_manifest_release(&m2);
	sl_buf_release(&wire);
	sl_buf_release(&wire2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_manifest_decode(&m, (const char *)data, size, &sl_manifest_default_limits, &err) == 0)
		decode_again(&m);
	sl_manifest_release(&m);
	sl_err_release(&err);
	return 0;
}
