/* silverlining — quoting for POSIX shells. */
#ifndef SL_QUOTE_H
#define SL_QUOTE_H

#include "buf.h"

/*
 * Appends S to OUT in single quotes, each ' written as '\''. The result
 * reads back as exactly S in any POSIX shell (sh, bash, dash, zsh),
 * whatever S holds: newlines, $(...), backticks, backslashes, quotes.
 * Used for `export KEY='value'` lines that are eval'ed, and for commands
 * sent to a remote shell.
 */
void sl_quote_sh(struct sl_buf *out, const char *s);

/*
 * As sl_quote_sh(), but leaves S bare when it is made only of characters
 * no shell treats specially (letters, digits, and -_./:,+=@%), and is not
 * empty. For commands shown to people.
 */
void sl_quote_sh_word(struct sl_buf *out, const char *s);

/* Appends ARGV's words, quoted with sl_quote_sh_word(), separated by spaces. */
void sl_quote_sh_argv(struct sl_buf *out, char *const *argv);

/*
 * Appends ARGV's words, each quoted with sl_quote_sh(), separated by
 * spaces: a command line for a remote shell, where even a first word
 * like FOO=bar must stay a word and not become an assignment.
 */
void sl_quote_sh_command(struct sl_buf *out, char *const *argv);

/*
 * Appends S to OUT percent-encoded for one component of a URL: every
 * byte but RFC 3986's unreserved ones (letters, digits, -._~) becomes %XX.
 */
void sl_quote_url(struct sl_buf *out, const char *s);

#endif
