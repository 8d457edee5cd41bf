/* silverlining — a job's schedule: its name, and cron's syntax as systemd's. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "schedule.h"
#include "strv.h"

int sl_job_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 31 || !islower((unsigned char)name[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

/* One cron field: its name, its range, the names its values may have. */
struct field {
	const char *what;
	int min, max;
	const char *const *names;	/* names[i] is the value min + i */
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
	"aug", "sep", "oct", "nov", "dec", NULL };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };
static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, months },
	{ "day of week", 0, 7, days },	/* 7 is Sunday too */
};

/* A number or a name of F at *P (advanced): 0, or -1. */
static int value(const struct field *f, const char **p, int *out)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		long n = 0;

		while (isdigit((unsigned char)*s) && n < 1000)
			n = n * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s))
			return -1;
		*out = (int)n;
		*p = s;
		return 0;
	}
	for (int i = 0; f->names && f->names[i]; i++)
		if (!strncasecmp(s, f->names[i], 3) && !isalpha((unsigned char)s[3])) {
			*out = f->min + i;
			*p = s + 3;
			return 0;
		}
	return -1;
}

/* Cron field TEXT of F as a set of values (bit v): 0, or -1 with WHY. */
static int field_set(const struct field *f, const char *text, uint64_t *set, struct sl_buf *why)
{
	const char *p = text;

	*set = 0;
	for (;;) {
		int lo, hi, step = 1;

		if (*p == '*') {
			lo = f->min;
			hi = f->max == 7 ? 6 : f->max;
			p++;
		} else {
			if (value(f, &p, &lo) < 0)
				goto bad;
			hi = lo;
			if (*p == '-') {
				p++;
				if (value(f, &p, &hi) < 0)
					goto bad;
			} else if (*p == '/') {
				hi = f->max == 7 ? 6 : f->max;	/* N/S: from N on */
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p) || value(f, &p, &step) < 0 || step < 1 ||
			    step > f->max)
				goto bad;
		}
		if (lo < f->min || hi > f->max || lo > hi) {
			sl_buf_addf(why, "a %s from %d to %d", f->what, f->min, f->max);
			return -1;
		}
		for (int v = lo; v <= hi; v += step)
			*set |= (uint64_t)1 << (f->max == 7 && v == 7 ? 0 : v);
		if (!*p)
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	sl_buf_addf(why, "cron's %s: *, N, N-M, a step /S, lists with ','%s", f->what,
		    f->names ? ", or names" : "");
	return -1;
}

/* SET of F in systemd's words (Mon.., or numbers, 2 digits wide), onto OUT. */
static void emit(struct sl_buf *out, const struct field *f, uint64_t set)
{
	static const char *const dow[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	int top = f->max == 7 ? 6 : f->max, first = 1, n = 0, lo = -1, step = 0, prog = 1;

	for (int v = f->min; v <= top; v++)
		if (set >> v & 1) {
			if (n == 1)
				step = v - lo;
			else if (n > 1 && v - lo != step * n)
				prog = 0;
			if (lo < 0)
				lo = v;
			n++;
		}
	if (n == top - f->min + 1 && f->max != 7) {
		sl_buf_addch(out, '*');
		return;
	}
	/* a progression that runs to the end: systemd's START/STEP */
	if (f->max != 7 && n > 2 && prog && lo + step * n > top) {
		sl_buf_addf(out, "%02d/%d", lo, step);
		return;
	}
	for (int v = f->min; v <= top; v++) {
		int end = v;

		if (!(set >> v & 1))
			continue;
		while (end < top && set >> (end + 1) & 1)
			end++;
		if (!first)
			sl_buf_addch(out, ',');
		first = 0;
		if (f->max == 7)
			sl_buf_adds(out, dow[v]);
		else
			sl_buf_addf(out, "%02d", v);
		/* days are listed: systemd's week starts on Monday, cron's on Sunday */
		if (end > v + 1 && f->max != 7) {
			sl_buf_addf(out, "..%02d", end);
			v = end;
		}
	}
}

static const char *const shorthands[][2] = {
	{ "@yearly", "*-01-01 00:00:00" },
	{ "@annually", "*-01-01 00:00:00" },
	{ "@monthly", "*-*-01 00:00:00" },
	{ "@weekly", "Sun *-*-* 00:00:00" },
	{ "@daily", "*-*-* 00:00:00" },
	{ "@midnight", "*-*-* 00:00:00" },
	{ "@hourly", "*-*-* *:00:00" },
};

/* Whether SCHEDULE is systemd's calendar text we pass on: printable, not too long. */
static int plain(const char *s)
{
	if (!*s || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return 0;
	return 1;
}

int sl_jobs_calendar(const char *schedule, struct sl_buf *out, struct sl_buf *why)
{
	struct sl_strv f = SL_STRV_INIT;
	uint64_t set[5];
	const char *p = schedule;
	int ret = -1;

	sl_buf_reset(out);
	sl_buf_reset(why);
	if (*schedule == '@') {
		for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
			if (!strcasecmp(schedule, shorthands[i][0])) {
				sl_buf_adds(out, shorthands[i][1]);
				return 1;
			}
		sl_buf_adds(why, "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly");
		return -1;
	}
	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n)
			sl_strv_pushn(&f, p, n);
		p += n;
	}
	/* systemd's expressions have four parts at most: weekday date time zone */
	if (f.n != 5) {
		size_t n = f.n;

		sl_strv_clear(&f);
		if (n > 5 || !plain(schedule)) {
			sl_buf_adds(why, "a systemd calendar expression or cron's five fields");
			return -1;
		}
		sl_buf_adds(out, schedule);
		return 0;
	}
	for (int i = 0; i < 5; i++)
		if (field_set(&fields[i], f.v[i], &set[i], why) < 0)
			goto out;
	if (strcmp(f.v[2], "*") && strcmp(f.v[4], "*")) {
		sl_buf_adds(why, "one day field: cron runs when either the day of month or the day of week matches, systemd when both do; give the other as *");
		goto out;
	}
	if (strcmp(f.v[4], "*")) {
		emit(out, &fields[4], set[4]);
		sl_buf_addch(out, ' ');
	}
	sl_buf_adds(out, "*-");
	emit(out, &fields[3], set[3]);
	sl_buf_addch(out, '-');
	emit(out, &fields[2], set[2]);
	sl_buf_addch(out, ' ');
	emit(out, &fields[1], set[1]);
	sl_buf_addch(out, ':');
	emit(out, &fields[0], set[0]);
	sl_buf_adds(out, ":00");
	ret = 1;
out:
	if (ret < 0)
		sl_buf_reset(out);
	sl_strv_clear(&f);
	return ret;
}
