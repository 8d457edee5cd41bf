/* silverlining — the systemd units of a node's instances. */
#ifndef SL_UNIT_H
#define SL_UNIT_H

#include "buf.h"
#include "say.h"

/*
 * Each instance runs as silverlining-instance@INSTANCE.service. A Python
 * instance's socket is silverlining-instance@INSTANCE.socket's, which
 * starts the service on a connection; its uWSGI exits when idle (the
 * socket stays). An instance that stopped serving drains under the timer
 * silverlining-drain-INSTANCE.timer before its units are disabled.
 */

/* "silverlining-instance@INSTANCE.service" into OUT (replaced). */
void sl_unit_name(struct sl_buf *out, const char *instance);

/* "silverlining-instance@INSTANCE.socket" into OUT (replaced). */
void sl_unit_socket_name(struct sl_buf *out, const char *instance);

/*
 * 1 when INSTANCE is up: its service or its socket active (an idle Python
 * instance serves on its next connection), 0 when not (a failure to run
 * systemctl told through S).
 */
int sl_unit_active(const struct sl_say *s, const char *instance);

/* 1 when INSTANCE's service (its server) is active, else 0. */
int sl_unit_server_active(const struct sl_say *s, const char *instance);

/* 1 when INSTANCE's socket unit is active, else 0. */
int sl_unit_socket_active(const struct sl_say *s, const char *instance);

/* INSTANCE's units (socket and service) disabled and stopped; a failure to run systemctl is told through S. */
void sl_unit_disable_now(const struct sl_say *s, const char *instance);

#endif
