/* log.c - leveled logging to stderr with UTC timestamps and a component tag. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static spate_log_level_t log_level = SPATE_LOG_INFO;
static char log_component[32] = "spate";

static const char *level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void spate_log_init(const char *component) {
        const char *env = getenv("SPATE_LOG_LEVEL");
        if (component)
                snprintf(log_component, sizeof(log_component), "%s", component);
        if (!env)
                return;
        for (int i = 0; i < 4; i++)
                if (!strcasecmp(env, level_names[i]))
                        log_level = (spate_log_level_t)i;
}

void spate_log_set_level(spate_log_level_t level) {
        log_level = level;
}

int spate_log_enabled(spate_log_level_t level) {
        return level <= log_level;
}

void spate_log(spate_log_level_t level, const char *fmt, ...) {
        struct timeval tv;
        struct tm tm;
        char ts[32];
        char line[2048];
        va_list ap;

        if (level > log_level)
                return;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* One fprintf per line keeps lines whole when threads log at once. */
        fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", ts, (int)(tv.tv_usec / 1000),
                level_names[level], log_component, line);
}
