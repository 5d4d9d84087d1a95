/* weather_server.h - the HTTP side of weather-sim: One Call and Current Weather endpoints, API
 * keys, rate limits, injected faults, the request log and /stats. */
#ifndef SPATE_WEATHER_SERVER_H
#define SPATE_WEATHER_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
        char        host[256];
        char        port[16];       /* "0" = any free port */
        const char *keys;           /* comma-separated accepted appids; NULL = any non-empty */
        long        rate_limit;     /* admitted requests per key per sliding 60 s; 0 = none */
        double      speed;          /* simulated seconds per wall second */
        int64_t     start_s;        /* simulated start; -1 = now rounded down to the minute */
        uint64_t    seed;           /* weather model and fault draws */
        double      error_rate, timeout_rate, truncate_rate, malformed_rate;   /* 0..1 */
        double      negative_rate;  /* answers with one negative minutely precipitation */
        long        latency_ms;     /* added to every weather answer (POST /sim/control
                                     * ?latency_ms=N changes it while running) */
        long        timeout_ms;     /* hang of a timeout fault; 0 = never answer */
        const char *log_path;       /* NULL = no request log */
        unsigned    threads;        /* 0 = CPU count */
} spate_weather_server_opts_t;

typedef struct spate_weather_server spate_weather_server_t;

/* Binds, starts the worker threads and returns the server with the bound port in *port, or
 * NULL with errstr filled.  The options are copied; the strings they point to must outlive
 * the server. */
spate_weather_server_t *spate_weather_server_start(const spate_weather_server_opts_t *opts,
                                                   unsigned *port, char *errstr,
                                                   size_t errstr_size);

/* Closes parked requests, stops serving and frees everything.  NULL is a no-op. */
void spate_weather_server_stop(spate_weather_server_t *srv);

#endif
