/*
 * bm_retry: see bm_retry.h. Pure functions: no clock, no global state, no
 * I/O, so every decision can be unit-tested with fixed inputs. bm_http
 * supplies the clock and the seed and applies the answer.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bm_listing.h"
#include "bm_retry.h"

void bm_retry_policy_default(struct bm_retry_policy *p)
{
	p->max_retries = 5;
	p->base_delay_ms = 200;
	p->max_delay_ms = 30000;
	p->total_budget_ms = 120000;
}

bool bm_retry_retryable(enum bm_transport t, long status)
{
	switch (t) {
	case BM_TRANSPORT_CONNECT:
		/* Nothing reached the server: always safe to try again, and
		 * a restarting endpoint or a lost SYN heals by itself. */
		return true;
	case BM_TRANSPORT_RESET:
		/* The connection died mid-exchange (reset, short body). The
		 * caller only asks about idempotent requests, so repeating
		 * is safe; a stale pooled connection is the common cause. */
		return true;
	case BM_TRANSPORT_TIMEOUT:
		/* Connect or low-speed timeout: a congested or overloaded
		 * service, which backoff is meant for. */
		return true;
	case BM_TRANSPORT_TLS:
		/* A certificate problem does not go away by waiting, and
		 * retrying would only delay the user's fix. */
		return false;
	case BM_TRANSPORT_ABORTED:
		/* The caller asked to stop: honour it. */
		return false;
	case BM_TRANSPORT_OK:
		break;
	}
	switch (status) {
	case 408: /* Request Timeout: the server gave up waiting for us. */
	case 429: /* Too Many Requests: throttled, back off. */
	case 500: /* Internal Server Error: Azure documents it as transient
		   * (OperationTimedOut, InternalError). */
	case 502: /* Bad Gateway: a front end lost its back end. */
	case 503: /* Server Busy: throttling at the account or partition. */
	case 504: /* Gateway Timeout. */
		return true;
	default:
		/* 2xx needs no retry; other 4xx are the request's fault and
		 * would fail the same way again; 501/505 are permanent. */
		return false;
	}
}

/* xorshift32: the seed is the caller's, so sequences are reproducible in
 * tests and independent between threads (no shared rand() state). */
static unsigned next_random(unsigned *seed)
{
	unsigned x = *seed ? *seed : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x;
}

long bm_retry_delay_ms(const struct bm_retry_policy *p, int attempt,
		       long retry_after_ms, long elapsed_ms, unsigned *seed)
{
	long ceiling, delay;
	int shift;

	if (attempt < 1 || attempt > p->max_retries)
		return -1;
	/* Exponential ceiling base * 2^(attempt-1), capped; the shift is
	 * bounded so the multiplication cannot overflow. */
	ceiling = p->base_delay_ms > 0 ? p->base_delay_ms : 0;
	for (shift = 1; shift < attempt && ceiling < p->max_delay_ms; shift++)
		ceiling = ceiling > LONG_MAX / 2 ? LONG_MAX : ceiling * 2;
	if (ceiling > p->max_delay_ms)
		ceiling = p->max_delay_ms;
	if (ceiling < 0)
		ceiling = 0;
	/* Full jitter: uniform in [0, ceiling], so many clients that failed
	 * together do not come back together. */
	delay = (long)(next_random(seed) % ((unsigned long)ceiling + 1));
	/* The service's Retry-After is a floor: coming back earlier would be
	 * throttled again. It may exceed max_delay_ms; the budget still
	 * bounds it below. */
	if (retry_after_ms >= 0 && delay < retry_after_ms)
		delay = retry_after_ms;
	if (elapsed_ms < 0)
		elapsed_ms = 0;
	if (elapsed_ms > p->total_budget_ms ||
	    delay > p->total_budget_ms - elapsed_ms)
		return -1;
	return delay;
}

long bm_retry_after_ms(const char *value, long now_epoch_s)
{
	time_t when;
	char *end;
	long secs;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		secs = strtol(value, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		/* A day is far past any budget; bigger values are noise. */
		if (*end || secs < 0 || secs > 86400)
			return -1;
		return secs * 1000;
	}
	if (bm_parse_http_date(value, &when) < 0)
		return -1;
	/* A date in the past means "now". */
	if ((long)when <= now_epoch_s)
		return 0;
	if ((long)when - now_epoch_s > 86400)
		return -1;
	return ((long)when - now_epoch_s) * 1000;
}
