/* silverlining — the systemd units of a node's instances. */
#include "run.h"
#include "unit.h"

void sl_unit_name(struct sl_buf *out, const char *instance)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "silverlining-instance@%s.service", instance);
}

void sl_unit_socket_name(struct sl_buf *out, const char *instance)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "silverlining-instance@%s.socket", instance);
}

/* 1 when UNIT is active. */
static int active(const struct sl_say *s, const char *unit)
{
	return SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "is-active", "-q",
			  (char *)unit) == 0;
}

int sl_unit_server_active(const struct sl_say *s, const char *instance)
{
	struct sl_buf u = SL_BUF_INIT;
	int rc;

	sl_unit_name(&u, instance);
	rc = active(s, u.buf);
	sl_buf_release(&u);
	return rc;
}

int sl_unit_socket_active(const struct sl_say *s, const char *instance)
{
	struct sl_buf u = SL_BUF_INIT;
	int rc;

	sl_unit_socket_name(&u, instance);
	rc = active(s, u.buf);
	sl_buf_release(&u);
	return rc;
}

int sl_unit_active(const struct sl_say *s, const char *instance)
{
	return sl_unit_server_active(s, instance) || sl_unit_socket_active(s, instance);
}

void sl_unit_disable_now(const struct sl_say *s, const char *instance)
{
	struct sl_buf u = SL_BUF_INIT, k = SL_BUF_INIT;

	sl_unit_name(&u, instance);
	sl_unit_socket_name(&k, instance);
	/* the socket first, so that no connection starts the server again */
	SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "disable", "-q", "--now",
		   k.buf, u.buf);
	sl_buf_release(&u);
	sl_buf_release(&k);
}
