/* silverlining — quoting for POSIX shells. */
#include <string.h>

#include "quote.h"

void sl_quote_sh(struct sl_buf *out, const char *s)
{
	sl_buf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sl_buf_adds(out, "'\\''");
		else
			sl_buf_addch(out, *s);
	}
	sl_buf_addch(out, '\'');
}

static int is_plain(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,+=@%";

	return *s && strspn(s, ok) == strlen(s);
}

void sl_quote_sh_word(struct sl_buf *out, const char *s)
{
	if (is_plain(s))
		sl_buf_adds(out, s);
	else
		sl_quote_sh(out, s);
}

void sl_quote_sh_argv(struct sl_buf *out, char *const *argv)
{
	for (int i = 0; argv[i]; i++) {
		if (i)
			sl_buf_addch(out, ' ');
		sl_quote_sh_word(out, argv[i]);
	}
}

void sl_quote_sh_command(struct sl_buf *out, char *const *argv)
{
	for (int i = 0; argv[i]; i++) {
		if (i)
			sl_buf_addch(out, ' ');
		sl_quote_sh(out, argv[i]);
	}
}

void sl_quote_url(struct sl_buf *out, const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";

	for (; *s; s++) {
		if (strchr(ok, *s))
			sl_buf_addch(out, *s);
		else
			sl_buf_addf(out, "%%%02X", (unsigned char)*s);
	}
}
