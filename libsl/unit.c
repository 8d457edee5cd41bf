/* silverlining — the systemd units of a node's instances. */
#include "run.h"
#include "unit.h"

void sl_unit_name(struct sl_buf *out, const char *instance)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "silverlining-instance@%s.service", instance);
}

int sl_unit_active(const struct sl_say *s, const char *instance)
{
	struct sl_buf u = SL_BUF_INIT;
	int rc;

	sl_unit_name(&u, instance);
	rc = SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "is-active", "-q", u.buf);
	sl_buf_release(&u);
	return rc == 0;
}

void sl_unit_disable_now(const struct sl_say *s, const char *instance)
{
	struct sl_buf u = SL_BUF_INIT;

	sl_unit_name(&u, instance);
	SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "disable", "-q", "--now", u.buf);
	sl_buf_release(&u);
}
