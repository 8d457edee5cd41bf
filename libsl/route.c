/* silverlining — the node's routes: which instance serves which host and path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file.h"
#include "instance.h"
#include "location.h"
#include "mem.h"
#include "node.h"
#include "route.h"

void sl_routes_release(struct sl_routes *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].host);
		free(r->v[i].path);
		free(r->v[i].instance);
	}
	free(r->v);
	r->v = NULL;
	r->n = r->alloc = 0;
}

static int cmp(const char *h1, const char *p1, const char *h2, const char *p2)
{
	int c = strcmp(h1, h2);

	return c ? c : strcmp(p1, p2);
}

/* Where HOST PATH is or would go in R's sorted order; *FOUND if it is there. */
static size_t find(const struct sl_routes *r, const char *host,
		   const char *path, int *found)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(r->v[mid].host, r->v[mid].path, host, path);

		if (!c) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

const char *sl_routes_get(const struct sl_routes *r, const char *host,
			  const char *path)
{
	int found;
	size_t i = find(r, host, path, &found);

	return found ? r->v[i].instance : NULL;
}

void sl_routes_set(struct sl_routes *r, const char *host, const char *path,
		   const char *instance)
{
	int found;
	size_t i = find(r, host, path, &found);

	if (found && instance) {	/* the location keeps its flags */
		free(r->v[i].instance);
		r->v[i].instance = sl_xstrdup(instance);
		return;
	}
	if (found) {
		free(r->v[i].host);
		free(r->v[i].path);
		free(r->v[i].instance);
		memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof(*r->v));
		r->n--;
		return;
	}
	if (!instance)
		return;
	if (r->n == r->alloc) {
		r->alloc = sl_alloc_nr(r->alloc, r->n + 1);
		r->v = sl_xrealloc(r->v, r->alloc * sizeof(*r->v));
	}
	memmove(r->v + i + 1, r->v + i, (r->n - i) * sizeof(*r->v));
	r->v[i].host = sl_xstrdup(host);
	r->v[i].path = sl_xstrdup(path);
	r->v[i].instance = sl_xstrdup(instance);
	r->v[i].flags = 0;
	r->n++;
}

/* Whether HOST is a previous instance's (prev.*): those carry no flags. */
static int is_prev(const char *host)
{
	return !strncmp(host, "prev.", 5);
}

void sl_routes_set_flags(struct sl_routes *r, const char *host, const char *path,
			 unsigned flags)
{
	int found;
	size_t i = find(r, host, path, &found);

	if (!found || is_prev(host) || !(flags & SL_ROUTE_HTTPS))
		flags = 0;
	if (found)
		r->v[i].flags = flags & (SL_ROUTE_HTTPS | SL_ROUTE_HSTS);
}

/* FLAGS as the table writes them: "https", "https,hsts", or "" for none. */
static const char *flags_text(unsigned flags)
{
	if (!(flags & SL_ROUTE_HTTPS))
		return "";
	return flags & SL_ROUTE_HSTS ? "https,hsts" : "https";
}

/* Whether HOST PATH is a location as the parser leaves it. */
static int canonical(const char *host, const char *path)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_buf text = SL_BUF_INIT;
	int ok;

	sl_buf_addf(&text, "%s%s", host, path);
	ok = *path == '/' &&
	     !sl_location_parse(text.buf, SL_LOC_PREV, &loc, NULL) &&
	     !strcmp(loc.host, host) && !strcmp(loc.path, path);
	sl_location_release(&loc);
	sl_buf_release(&text);
	return ok;
}

/*
 * Splits LINE (NUL-terminated, no newline) at single spaces into three
 * fields and an optional fourth (F[3] NULL when it is absent).
 */
static int fields(char *line, char *f[4])
{
	f[0] = line;
	f[3] = NULL;
	for (int i = 1; i < 4; i++) {
		char *sp = strchr(f[i - 1], ' ');

		if (!sp)
			return i == 3;
		*sp = '\0';
		f[i] = sp + 1;
	}
	return !strchr(f[3], ' ');
}

int sl_routes_load(const char *file, struct sl_routes *r, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	char *line, *next, *f[4];
	size_t no = 0;
	unsigned flags;
	int found;

	sl_routes_release(r);
	if (sl_buf_read_file(&text, file) < 0) {
		sl_buf_release(&text);
		if (errno == ENOENT)
			return 0;
		return sl_err_errno(err, "unable to read %s", file);
	}
	for (line = text.buf; line < text.buf + text.len; line = next) {
		char *nl = memchr(line, '\n', text.buf + text.len - line);

		no++;
		if (!nl || memchr(line, '\0', (size_t)(nl - line))) {
			sl_err_set(err, 111, "%s:%zu: the node's routes are damaged: "
				   "the line is not whole", file, no);
			goto fail;
		}
		*nl = '\0';
		next = nl + 1;
		if (!fields(line, f) || !canonical(f[0], f[1]) ||
		    !sl_instance_name_valid(f[2])) {
			sl_err_set(err, 111, "%s:%zu: the node's routes are damaged: "
				   "want 'HOST PATH INSTANCE'", file, no);
			goto fail;
		}
		flags = 0;
		if (f[3] && strcmp(f[3], "https") && strcmp(f[3], "https,hsts")) {
			sl_err_set(err, 111, "%s:%zu: the node's routes are damaged: "
				   "flags '%s': want https or https,hsts", file, no, f[3]);
			goto fail;
		}
		if (f[3] && is_prev(f[0])) {
			sl_err_set(err, 111, "%s:%zu: the node's routes are damaged: "
				   "%s%s carries flags (a previous instance has none)",
				   file, no, f[0], f[1]);
			goto fail;
		}
		if (f[3])
			flags = SL_ROUTE_HTTPS | (f[3][5] ? SL_ROUTE_HSTS : 0);
		find(r, f[0], f[1], &found);
		if (found) {
			sl_err_set(err, 111, "%s:%zu: the node's routes are damaged: "
				   "%s%s is routed twice", file, no, f[0], f[1]);
			goto fail;
		}
		sl_routes_set(r, f[0], f[1], f[2]);
		sl_routes_set_flags(r, f[0], f[1], flags);
	}
	sl_buf_release(&text);
	return 0;
fail:
	sl_buf_release(&text);
	sl_routes_release(r);
	return -1;
}

int sl_routes_commit(const struct sl_routes *r, const char *file,
		     struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	int rc;

	for (size_t i = 0; i < r->n; i++) {
		const char *f = flags_text(r->v[i].flags);

		sl_buf_addf(&text, "%s %s %s%s%s\n", r->v[i].host, r->v[i].path,
			    r->v[i].instance, *f ? " " : "", f);
	}
	rc = sl_file_write(file, text.buf, text.len, 0644, SL_FILE_REPLACE, err);
	sl_buf_release(&text);
	return rc < 0 ? -1 : 0;
}

/* Whether NAME falls under the wildcard WILD (".example.com"). */
static int under(const char *name, const char *wild)
{
	size_t n = strlen(name), w = strlen(wild);

	if (!strcasecmp(name, wild + 1))
		return 1;
	return n > w && !strcasecmp(name + n - w, wild);
}

/* Whether route path ROUTE takes the request path PATH. */
static int takes(const char *route, const char *path)
{
	size_t n = strlen(route);

	if (!strcmp(route, "/"))
		return 1;
	return !strncmp(path, route, n) && (path[n] == '\0' || path[n] == '/');
}

const struct sl_route *sl_routes_match(const struct sl_routes *r,
				       const char *host, const char *path)
{
	const char *chosen = NULL;
	const struct sl_route *best = NULL;
	size_t i;
	int exact;

	/* the server block nginx picks: exact, longest wildcard, default */
	for (i = 0; i < r->n && !chosen; i++)
		if (!strcasecmp(r->v[i].host, host))
			chosen = r->v[i].host;
	exact = chosen != NULL;
	for (i = 0; i < r->n && !exact; i++)
		if (r->v[i].host[0] == '.' && under(host, r->v[i].host) &&
		    (!chosen || strlen(r->v[i].host) > strlen(chosen)))
			chosen = r->v[i].host;
	for (i = 0; i < r->n && !chosen; i++)
		if (!strcmp(r->v[i].host, "*"))
			chosen = r->v[i].host;
	for (i = 0; i < r->n && !chosen; i++)
		if (!strcmp(r->v[i].host, "not-found"))
			chosen = r->v[i].host;
	if (!chosen)
		return NULL;
	/* within it, the longest route path on a segment boundary */
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].host, chosen) && takes(r->v[i].path, path) &&
		    (!best || strlen(r->v[i].path) > strlen(best->path)))
			best = &r->v[i];
	return best;
}

int sl_routes_instance_at(const char *location, struct sl_buf *instance,
			  struct sl_err *err)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf file = SL_BUF_INIT;
	const char *inst;
	int ret = -1;

	sl_buf_reset(instance);
	if (sl_location_parse(location, SL_LOC_PREV | SL_LOC_HTTPS, &loc, err) < 0)
		return -1;
	sl_node_path(&file, "routes");
	if (sl_routes_load(file.buf, &r, err) == 0) {
		inst = sl_routes_get(&r, loc.host, loc.path);
		if (inst)
			sl_buf_adds(instance, inst);
		ret = inst != NULL;
	}
	sl_routes_release(&r);
	sl_buf_release(&file);
	sl_location_release(&loc);
	return ret;
}
