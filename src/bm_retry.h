/*
 * bm_retry: the retry policy, as pure functions so it can be unit-tested.
 * Which failures are retried, and how long to wait, is decided here and
 * only here; bm_http applies it.
 */
#ifndef BM_RETRY_H
#define BM_RETRY_H

#include <stdbool.h>

struct bm_retry_policy {
	int max_retries; /* attempts after the first (blobfuse: --max-retry) */
	long base_delay_ms; /* first backoff, doubled each retry */
	long max_delay_ms;  /* cap of one wait (--max-retry-interval-in-seconds)
			     */
	long
	    total_budget_ms; /* no retry starts after this much time in total */
};

/* Defaults: 5 retries, 200 ms base, 30 s cap, 120 s total. */
void bm_retry_policy_default(struct bm_retry_policy *p);

/* Transport outcome of one attempt, independent of libcurl's codes. */
enum bm_transport {
	BM_TRANSPORT_OK = 0,  /* a response status was received */
	BM_TRANSPORT_CONNECT, /* refused, unreachable, DNS */
	BM_TRANSPORT_RESET,   /* connection dropped, short body */
	BM_TRANSPORT_TIMEOUT, /* connect/low-speed timeout */
	BM_TRANSPORT_TLS,     /* certificate problem: never retried */
	BM_TRANSPORT_ABORTED, /* the caller's callback stopped it */
};

/* Whether an attempt with this outcome may be retried: transport failures
 * (not TLS, not aborted), and statuses 408, 429, 500, 502, 503, 504. */
bool bm_retry_retryable(enum bm_transport t, long status);

/*
 * Delay before retry number `attempt` (1-based): exponential backoff with
 * full jitter drawn from *seed, capped by max_delay_ms; a Retry-After
 * (retry_after_ms >= 0) raises the delay to at least that value. Returns -1
 * when no retry should start: attempt > max_retries, or elapsed_ms + delay
 * would exceed total_budget_ms.
 */
long bm_retry_delay_ms(const struct bm_retry_policy *p, int attempt,
		       long retry_after_ms, long elapsed_ms, unsigned *seed);

/* Parses Retry-After (delta-seconds or an HTTP date relative to now);
 * -1 when absent or malformed. */
long bm_retry_after_ms(const char *value, long now_epoch_s);

#endif
