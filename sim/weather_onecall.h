/* weather_onecall.h - renders the weather model as OpenWeatherMap JSON documents: One Call and
 * Current Weather. */
#ifndef SPATE_WEATHER_ONECALL_H
#define SPATE_WEATHER_ONECALL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        SPATE_UNITS_STANDARD = 0,   /* Kelvin, m/s (OWM's default) */
        SPATE_UNITS_METRIC,         /* Celsius, m/s */
        SPATE_UNITS_IMPERIAL        /* Fahrenheit, miles/hour */
} spate_units_t;

/* Bits of the `exclude` query parameter. */
#define SPATE_ONECALL_NO_CURRENT  0x01u
#define SPATE_ONECALL_NO_MINUTELY 0x02u
#define SPATE_ONECALL_NO_HOURLY   0x04u
#define SPATE_ONECALL_NO_DAILY    0x08u
#define SPATE_ONECALL_NO_ALERTS   0x10u

typedef struct {
        double        lat, lon;
        int64_t       now_s;        /* simulated "now", unix seconds */
        uint64_t      seed;
        spate_units_t units;
        unsigned      exclude;      /* SPATE_ONECALL_NO_* */
        int           negative_minute;  /* fault: minutely[negative_minute - 1]'s
                                         * precipitation is negated, minus 0.01 (below 0);
                                         * 0: none */
} spate_onecall_req_t;

/* Unknown or missing values give standard units, as OWM does. */
spate_units_t spate_onecall_units_parse(const char *s);

/* Parses "minutely,hourly"; unknown parts are ignored like OWM ignores them. */
unsigned spate_onecall_exclude_parse(const char *s);

/* The latest time the model renders: 9999-12-31T23:59:59Z, so that its time
 * arithmetic cannot overflow. */
#define SPATE_ONECALL_MAX_TIME_S "253402300799"

/* Parses a query's latitude or longitude, a text that is all one number
 * within [lo, hi]: 0, or -1 (NaN, trailing bytes, out of range). */
int spate_onecall_coord_parse(const char *v, double lo, double hi, double *out);

/* Parses a query's `t` (unix seconds, 0 to SPATE_ONECALL_MAX_TIME_S, digits
 * only): 0, or -1 for anything else. */
int spate_onecall_time_parse(const char *s, int64_t *out);

/* Returns a malloc'd NUL-terminated JSON document (caller frees) and its length in *len,
 * or NULL when out of memory. */
char *spate_onecall_render(const spate_onecall_req_t *req, size_t *len);

/* The Current Weather answer (/data/2.5/weather) at req->now_s: lat, lon, now_s, seed and
 * units are used, the rest ignored.  Returns a malloc'd NUL-terminated JSON document (caller
 * frees) and its length in *len, or NULL when out of memory. */
char *spate_current_render(const spate_onecall_req_t *req, size_t *len);

#endif
