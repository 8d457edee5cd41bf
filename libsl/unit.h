/* silverlining — the systemd units of a node's instances. */
#ifndef SL_UNIT_H
#define SL_UNIT_H

#include "buf.h"
#include "say.h"

/*
 * Each instance runs as silverlining-instance@INSTANCE.service; an
 * instance that stopped serving drains under the timer
 * silverlining-drain-INSTANCE.timer before its unit is disabled.
 */

/* "silverlining-instance@INSTANCE.service" into OUT (replaced). */
void sl_unit_name(struct sl_buf *out, const char *instance);

/* 1 when INSTANCE's unit is active, 0 when not (a failure to run systemctl told through S). */
int sl_unit_active(const struct sl_say *s, const char *instance);

/* INSTANCE's unit disabled and stopped; a failure to run systemctl is told through S. */
void sl_unit_disable_now(const struct sl_say *s, const char *instance);

#endif
