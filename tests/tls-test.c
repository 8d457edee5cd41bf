/* silverlining — tests of libsl/tls's rules that need no certificate: the
 * renewal window and the back-off, driven by tests/unit/tls.bats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/tls.h"

static long long num(const char *s)
{
	return strtoll(s, NULL, 10);
}

int main(int argc, char **argv)
{
	/* due NOT_BEFORE NOT_AFTER NOW: 1 when due, else 0 */
	if (argc == 5 && !strcmp(argv[1], "due")) {
		struct sl_tls_cert c = SL_TLS_CERT_INIT;

		c.not_before = (time_t)num(argv[2]);
		c.not_after = (time_t)num(argv[3]);
		printf("%d\n", sl_tls_due(&c, (time_t)num(argv[4])));
		return 0;
	}
	/* try-at LAST FAILURES: when the next attempt may be made */
	if (argc == 4 && !strcmp(argv[1], "try-at")) {
		struct sl_tls_state s = SL_TLS_STATE_INIT;

		s.last = (time_t)num(argv[2]);
		s.failures = (int)num(argv[3]);
		printf("%lld\n", (long long)sl_tls_try_at(&s));
		return 0;
	}
	/* covers HOST NAME...: 1 when a certificate naming NAMEs serves HOST */
	if (argc >= 4 && !strcmp(argv[1], "covers")) {
		struct sl_tls_cert c = SL_TLS_CERT_INIT;

		for (int i = 3; i < argc; i++)
			sl_strv_push(&c.hosts, argv[i]);
		printf("%d\n", sl_tls_covers(&c, argv[2]));
		sl_tls_cert_release(&c);
		return 0;
	}
	fprintf(stderr, "usage: tls-test due NB NA NOW | try-at LAST N | covers HOST NAME...\n");
	return 100;
}
