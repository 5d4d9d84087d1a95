/* log.h - leveled logging to stderr, shared by every spate component. */
#ifndef SPATE_LOG_H
#define SPATE_LOG_H

typedef enum {
        SPATE_LOG_ERROR = 0,
        SPATE_LOG_WARN  = 1,
        SPATE_LOG_INFO  = 2,
        SPATE_LOG_DEBUG = 3
} spate_log_level_t;

/* Reads SPATE_LOG_LEVEL (error|warn|info|debug) once; default info. */
void spate_log_init(const char *component);
void spate_log_set_level(spate_log_level_t level);
int spate_log_enabled(spate_log_level_t level);
void spate_log(spate_log_level_t level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define spate_err(...)   spate_log(SPATE_LOG_ERROR, __VA_ARGS__)
#define spate_warn(...)  spate_log(SPATE_LOG_WARN, __VA_ARGS__)
#define spate_info(...)  spate_log(SPATE_LOG_INFO, __VA_ARGS__)
#define spate_debug(...) do { if (spate_log_enabled(SPATE_LOG_DEBUG)) \
                spate_log(SPATE_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
