/* silverlining — an app node told where its databases are (sl-dbnode --client). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "buf.h"
#include "dbclient.h"
#include "dbrecord.h"
#include "node.h"
#include "route.h"
#include "switch.h"

/* Whether A and B say the same (both absent is the same). */
static int same_server(const struct sl_dbrecord_server *a, const struct sl_dbrecord_server *b)
{
	struct sl_dbrecord x = SL_DBRECORD_INIT, y = SL_DBRECORD_INIT;
	struct sl_buf ta = SL_BUF_INIT, tb = SL_BUF_INIT;
	int same;

	/* borrowed, never released: the text of one section each */
	x.pg = *a;
	y.pg = *b;
	sl_dbrecord_format(&x, &ta);
	sl_dbrecord_format(&y, &tb);
	same = ta.len == tb.len && !memcmp(ta.buf, tb.buf, ta.len);
	explicit_bzero(ta.buf, ta.len);
	explicit_bzero(tb.buf, tb.len);
	sl_buf_release(&ta);
	sl_buf_release(&tb);
	return same;
}

/* Whether APP declares a service of a changed kind. */
static int uses(const struct sl_app *app, int pg, int my)
{
	for (size_t i = 0; i < app->nservices; i++) {
		const char *n = app->services[i].name;

		if ((pg && (!strcmp(n, "postgis") || !strcmp(n, "postgresql"))) ||
		    (my && !strcmp(n, "mysql")))
			return 1;
	}
	return 0;
}

/* One location per serving instance whose app uses a changed kind. */
static int affected(int pg, int my, struct sl_strv *locations, struct sl_err *err)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_strv seen = SL_STRV_INIT;
	struct sl_buf dir = SL_BUF_INIT;

	if (sl_switch_load(&r, err) < 0)
		return -1;
	for (size_t i = 0; i < r.n; i++) {
		const struct sl_route *t = &r.v[i];
		struct sl_app app = SL_APP_INIT;
		struct sl_err ignored = SL_ERR_INIT;
		int found = 0;

		if (!strncmp(t->host, "prev.", 5))
			continue;
		for (size_t j = 0; j < seen.n && !found; j++)
			found = !strcmp(seen.v[j], t->instance);
		if (found)
			continue;
		sl_strv_push(&seen, t->instance);
		sl_node_instance_path(&dir, "instances", t->instance);
		/* an instance whose app.ini does not read was never activated: nothing to move */
		if (sl_app_load(&app, dir.buf, &ignored) == 0 && uses(&app, pg, my))
			sl_strv_pushf(locations, "%s%s", t->host, strcmp(t->path, "/") ? t->path : "");
		sl_app_release(&app);
		sl_err_release(&ignored);
	}
	sl_routes_release(&r);
	sl_strv_clear(&seen);
	sl_buf_release(&dir);
	return 0;
}

int sl_dbclient_apply(const char *text, size_t len, struct sl_strv *locations,
		      struct sl_err *err)
{
	struct sl_dbrecord in = SL_DBRECORD_INIT, node = SL_DBRECORD_INIT;
	struct sl_dbrecord_server was;
	int pg = 0, my = 0, ret = -1;

	if (sl_dbrecord_parse(&in, text, len, "the record", err) < 0 ||
	    sl_dbrecord_load(&node, err) < 0)
		goto out;
	/* what TEXT has replaces the node's; the node's old section is released with IN */
	if (in.pg.present) {
		pg = !same_server(&in.pg, &node.pg);
		was = node.pg;
		node.pg = in.pg;
		in.pg = was;
	}
	if (in.my.present) {
		my = !same_server(&in.my, &node.my);
		was = node.my;
		node.my = in.my;
		in.my = was;
	}
	if (sl_dbrecord_store(&node, err) < 0)
		goto out;
	ret = pg || my ? affected(pg, my, locations, err) : 0;
out:
	sl_dbrecord_release(&in);
	sl_dbrecord_release(&node);
	return ret;
}
