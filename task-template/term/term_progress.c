/*
 * term_progress: the one-line progress display of put/get (and their -r
 * forms): bytes so far, rate, ETA, files done, redrawn in place on stderr
 * a few times a second by a ticker thread.
 *
 * Only for a person watching: it is on when stderr is a terminal and the
 * user did not say --no-progress; otherwise every call is a no-op, so
 * scripts and logs never see carriage returns. The caller counts bytes
 * with term_progress_add (from any thread) or lends a sampling function
 * (put counts the bytes the HTTP layer has sent; it has no hook per
 * byte). The last line stays on the screen, ended by a newline.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "term.h"

/* Redraws per second: smooth enough to read, cheap enough to ignore. */
#define PROGRESS_TICK_MS 200

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void term_format_bytes(uint64_t n, char *out, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%" PRIu64 " B", n);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

static uint64_t done_bytes(struct term_progress *p)
{
	uint64_t n = atomic_load(&p->bytes);

	if (p->sample) {
		uint64_t s = p->sample(p->sample_ud);

		n += s > p->sample_base ? s - p->sample_base : 0;
	}
	/* Retries resend bytes: never show more than the whole. */
	return p->total_bytes && n > p->total_bytes ? p->total_bytes : n;
}

/* One line: "get: 45.0 MiB / 100.0 MiB  45%  12.3 MiB/s  ETA 0:04  3/10
 * files". Written whole with \r and erase-to-end, so a shorter line
 * leaves no tail of the last one. */
static void draw(struct term_progress *p, bool final)
{
	uint64_t n = done_bytes(p);
	double elapsed = mono_s() - p->start;
	double rate = elapsed > 0.05 ? (double)n / elapsed : 0;
	char line[256], done[32], total[32], speed[32];
	size_t len;

	term_format_bytes(n, done, sizeof(done));
	term_format_bytes((uint64_t)rate, speed, sizeof(speed));
	len = (size_t)snprintf(line, sizeof(line), "%s: %s", p->verb, done);
	if (p->total_bytes) {
		term_format_bytes(p->total_bytes, total, sizeof(total));
		len += (size_t)snprintf(
		    line + len, sizeof(line) - len, " / %s %3d%%", total,
		    (int)(100.0 * (double)n / (double)p->total_bytes));
	}
	len +=
	    (size_t)snprintf(line + len, sizeof(line) - len, "  %s/s", speed);
	if (!final && p->total_bytes && rate > 0 && n < p->total_bytes) {
		long eta = (long)((double)(p->total_bytes - n) / rate + 0.5);

		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"  ETA %ld:%02ld", eta / 60, eta % 60);
	}
	if (p->total_files)
		snprintf(line + len, sizeof(line) - len, "  %u/%u files",
			 atomic_load(&p->files), p->total_files);
	fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
	fflush(stderr);
}

static void *ticker(void *arg)
{
	struct term_progress *p = arg;
	struct timespec until;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PROGRESS_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
		if (!p->stop)
			draw(p, false);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

bool term_progress_wanted(bool no_progress)
{
	return !no_progress && isatty(STDERR_FILENO);
}

void term_progress_start(struct term_progress *p, bool on, const char *verb,
			 uint64_t total_bytes, unsigned total_files)
{
	memset(p, 0, sizeof(*p));
	p->verb = verb;
	p->total_bytes = total_bytes;
	p->total_files = total_files;
	atomic_init(&p->bytes, 0);
	atomic_init(&p->files, 0);
	p->start = mono_s();
	if (!on)
		return;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	/* Without the thread there is no display, and nothing else lost. */
	p->running = pthread_create(&p->thread, NULL, ticker, p) == 0;
	if (!p->running) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
	}
}

void term_progress_sample(struct term_progress *p, uint64_t (*sample)(void *),
			  void *ud)
{
	p->sample = sample;
	p->sample_ud = ud;
	p->sample_base = sample(ud);
}

void term_progress_add(struct term_progress *p, uint64_t bytes)
{
	if (p)
		atomic_fetch_add(&p->bytes, bytes);
}

void term_progress_file_done(struct term_progress *p)
{
	if (p)
		atomic_fetch_add(&p->files, 1);
}

void term_progress_stop(struct term_progress *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	draw(p, true);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	p->running = false;
}
