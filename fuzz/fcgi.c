/*
 * silverlining — fuzzing the FastCGI response parser (libsl/fcgi.c): the
 * input is what a server sends back, records and all, read as the gate
 * reads a PHP instance's answer. A response it accepts has a status of
 * 100..599, and its body and stderr are no longer than the input.
 */
#include <stdlib.h>

#include "../libsl/fcgi.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_fcgi_response r = SL_FCGI_RESPONSE_INIT;
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_fcgi_parse(data, size, &r, &err);

	if (rc == 0 && (r.status < 100 || r.status > 599))
		abort();
	if (r.body.len > size || r.stderr_text.len > size)
		abort();
	if (rc < 0 && !err.msg.len)
		abort();
	sl_fcgi_response_release(&r);
	sl_err_release(&err);
	return 0;
}
