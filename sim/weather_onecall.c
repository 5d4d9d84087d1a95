/* weather_onecall.c - renders the weather model as OpenWeatherMap JSON documents: One Call
 * (/data/3.0/onecall) and Current Weather (/data/2.5/weather).
 *
 * Written with a small string builder instead of jansson: the simulator renders thousands of
 * documents a second and OWM's number style (0.45, 0, 1012) is easier to match by hand than
 * through a generic double formatter. */
#include "weather_onecall.h"
#include "weather_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOURLY_N 48
#define DAILY_N  8

struct sbuf {
        char  *buf;
        size_t len, cap;
        int    oom;
};

static void sb_vappend(struct sbuf *sb, const char *fmt, va_list ap) {
        va_list ap2;
        int n;

        if (sb->oom)
                return;
        va_copy(ap2, ap);
        n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap2);
        va_end(ap2);
        if (n < 0) {
                sb->oom = 1;
                return;
        }
        if ((size_t)n >= sb->cap - sb->len) {
                size_t cap = (sb->cap + (size_t)n + 1) * 2;
                char *nb = realloc(sb->buf, cap);
                if (!nb) {
                        sb->oom = 1;
                        return;
                }
                sb->buf = nb;
                sb->cap = cap;
                vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        }
        sb->len += (size_t)n;
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *sb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        sb_vappend(sb, fmt, ap);
        va_end(ap);
}

/* Appends `"key":value` with at most `decimals` decimals and no trailing zeros, the way OWM
 * prints 0.45, 17.3 or 0. */
static void sb_num(struct sbuf *sb, const char *key, double v, int decimals) {
        char tmp[64];
        int n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);

        if (decimals > 0) {
                while (n > 0 && tmp[n - 1] == '0')
                        tmp[--n] = '\0';
                if (n > 0 && tmp[n - 1] == '.')
                        tmp[--n] = '\0';
        }
        if (!strcmp(tmp, "-0"))
                strcpy(tmp, "0");
        sb_printf(sb, "\"%s\":%s,", key, tmp);
}

/* Drops the comma the last member left behind before closing an object or array. */
static void sb_close(struct sbuf *sb, char c) {
        if (!sb->oom && sb->len > 0 && sb->buf[sb->len - 1] == ',')
                sb->len--;
        sb_printf(sb, "%c,", c);
}

spate_units_t spate_onecall_units_parse(const char *s) {
        if (s && !strcmp(s, "metric"))
                return SPATE_UNITS_METRIC;
        if (s && !strcmp(s, "imperial"))
                return SPATE_UNITS_IMPERIAL;
        return SPATE_UNITS_STANDARD;
}

unsigned spate_onecall_exclude_parse(const char *s) {
        static const struct { const char *name; unsigned bit; } parts[] = {
                { "current", SPATE_ONECALL_NO_CURRENT }, { "minutely", SPATE_ONECALL_NO_MINUTELY },
                { "hourly", SPATE_ONECALL_NO_HOURLY },   { "daily", SPATE_ONECALL_NO_DAILY },
                { "alerts", SPATE_ONECALL_NO_ALERTS },
        };
        unsigned bits = 0;

        while (s && *s) {
                size_t n = strcspn(s, ",");
                for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
                        if (strlen(parts[i].name) == n && !strncmp(s, parts[i].name, n))
                                bits |= parts[i].bit;
                s += n + (s[n] == ',');
        }
        return bits;
}

int spate_onecall_coord_parse(const char *v, double lo, double hi, double *out) {
        char *end;
        if (!v || !*v)
                return -1;
        errno = 0;
        *out = strtod(v, &end);
        return (*end || errno || !(*out >= lo && *out <= hi)) ? -1 : 0;
}

int spate_onecall_time_parse(const char *s, int64_t *out) {
        char *end;
        if (!s || !(*s >= '0' && *s <= '9'))
                return -1;
        errno = 0;
        long long t = strtoll(s, &end, 10);
        if (errno || *end || t > strtoll(SPATE_ONECALL_MAX_TIME_S, NULL, 10))
                return -1;
        *out = t;
        return 0;
}

static double conv_temp(spate_units_t u, double c) {
        return u == SPATE_UNITS_METRIC ? c : u == SPATE_UNITS_IMPERIAL ? c * 1.8 + 32.0 : c + 273.15;
}

static double conv_speed(spate_units_t u, double ms) {
        return u == SPATE_UNITS_IMPERIAL ? ms * 2.236936 : ms;
}

/* OWM condition codes: https://openweathermap.org/weather-conditions */
static void sb_weather(struct sbuf *sb, double rain_mmh, double clouds, int day) {
        int id;
        const char *main_, *desc, *icon;

        if (rain_mmh > 0) {
                main_ = "Rain";
                icon = "10";
                id = rain_mmh < 2.5 ? 500 : rain_mmh < 7.6 ? 501 : 502;
                desc = id == 500 ? "light rain" : id == 501 ? "moderate rain"
                                                            : "heavy intensity rain";
        } else {
                main_ = clouds < 11 ? "Clear" : "Clouds";
                id = clouds < 11 ? 800 : clouds < 25 ? 801 : clouds < 51 ? 802 : clouds < 85 ? 803 : 804;
                static const char *descs[] = { "clear sky", "few clouds", "scattered clouds",
                                               "broken clouds", "overcast clouds" };
                static const char *icons[] = { "01", "02", "03", "04", "04" };
                desc = descs[id - 800];
                icon = icons[id - 800];
        }
        sb_printf(sb, "\"weather\":[{\"id\":%d,\"main\":\"%s\",\"description\":\"%s\","
                  "\"icon\":\"%s%c\"}],", id, main_, desc, icon, day ? 'd' : 'n');
}

/* The members current and hourly entries share. */
static void sb_obs(struct sbuf *sb, const spate_onecall_req_t *r, const spate_weather_obs_t *o) {
        sb_num(sb, "temp", conv_temp(r->units, o->temp_c), 2);
        sb_num(sb, "feels_like", conv_temp(r->units, o->feels_like_c), 2);
        sb_num(sb, "pressure", o->pressure_hpa, 0);
        sb_num(sb, "humidity", o->humidity_pct, 0);
        sb_num(sb, "dew_point", conv_temp(r->units, o->dew_point_c), 2);
        sb_num(sb, "uvi", o->uvi, 2);
        sb_num(sb, "clouds", o->clouds_pct, 0);
        sb_num(sb, "visibility", o->visibility_m, 0);
        sb_num(sb, "wind_speed", conv_speed(r->units, o->wind_speed_ms), 2);
        sb_num(sb, "wind_deg", o->wind_deg, 0);
        sb_num(sb, "wind_gust", conv_speed(r->units, o->wind_gust_ms), 2);
        sb_weather(sb, o->precip_mmh, o->clouds_pct, o->sun_elevation_deg > 0);
}

static void sb_current(struct sbuf *sb, const spate_onecall_req_t *r) {
        spate_weather_obs_t o;
        int64_t rise, set;

        spate_weather_model_observe(r->lat, r->lon, r->now_s, r->seed, &o);
        sb_printf(sb, "\"current\":{\"dt\":%lld,", (long long)r->now_s);
        if (spate_weather_model_sun(r->lat, r->lon, r->now_s, &rise, &set))
                sb_printf(sb, "\"sunrise\":%lld,\"sunset\":%lld,", (long long)rise, (long long)set);
        sb_obs(sb, r, &o);
        if (o.precip_mmh > 0) {
                sb_printf(sb, "\"rain\":{");
                sb_num(sb, "1h", o.precip_mmh, 2);
                sb_close(sb, '}');
        }
        sb_close(sb, '}');
}

static void sb_minutely(struct sbuf *sb, const spate_onecall_req_t *r) {
        spate_weather_minute_t m[SPATE_WEATHER_MINUTELY_N];

        spate_weather_model_minutely(r->lat, r->lon, r->now_s, r->seed, m);
        sb_printf(sb, "\"minutely\":[");
        for (int i = 0; i < SPATE_WEATHER_MINUTELY_N; i++) {
                double p = i + 1 == r->negative_minute ? -m[i].precipitation - 0.01 : m[i].precipitation;
                sb_printf(sb, "{\"dt\":%lld,", (long long)m[i].dt);
                sb_num(sb, "precipitation", p, 2);
                sb_close(sb, '}');
        }
        sb_close(sb, ']');
}

/* Hourly rain is the mean of four 15-minute samples: enough to look like an hourly total
 * without evaluating the model 60 times per hour. */
static void sb_hourly(struct sbuf *sb, const spate_onecall_req_t *r) {
        int64_t h0 = r->now_s - (r->now_s % 3600 + 3600) % 3600;

        sb_printf(sb, "\"hourly\":[");
        for (int i = 0; i < HOURLY_N; i++) {
                int64_t t = h0 + 3600LL * i;
                spate_weather_obs_t o;
                double total = 0;
                int wet = 0;

                spate_weather_model_observe(r->lat, r->lon, t, r->seed, &o);
                for (int q = 0; q < 4; q++) {
                        double p = q ? spate_weather_model_precip(r->lat, r->lon, t + 900 * q, r->seed)
                                     : o.precip_mmh;
                        total += p / 4.0;
                        wet += p > 0;
                }
                sb_printf(sb, "{\"dt\":%lld,", (long long)t);
                sb_obs(sb, r, &o);
                sb_num(sb, "pop", wet / 4.0, 2);
                if (total >= 0.005) {
                        sb_printf(sb, "\"rain\":{");
                        sb_num(sb, "1h", total, 2);
                        sb_close(sb, '}');
                }
                sb_close(sb, '}');
        }
        sb_close(sb, ']');
}

static void sb_day(struct sbuf *sb, const spate_onecall_req_t *r, int64_t midnight) {
        /* Three-hourly samples from local midnight: [0]=night, [2]=morn, [4]=day, [6]=eve. */
        spate_weather_obs_t s[8];
        double tmin = 1e9, tmax = -1e9, rain = 0;
        int wet = 0;
        int64_t rise, set;

        for (int i = 0; i < 8; i++) {
                spate_weather_model_observe(r->lat, r->lon, midnight + 10800LL * i, r->seed, &s[i]);
                tmin = fmin(tmin, s[i].temp_c);
                tmax = fmax(tmax, s[i].temp_c);
        }
        for (int i = 0; i < 12; i++) {
                double p = spate_weather_model_precip(r->lat, r->lon, midnight + 7200LL * i + 3600,
                                                      r->seed);
                rain += 2.0 * p;
                wet += p > 0;
        }
        sb_printf(sb, "{\"dt\":%lld,", (long long)(midnight + 43200));
        if (spate_weather_model_sun(r->lat, r->lon, midnight + 43200, &rise, &set))
                sb_printf(sb, "\"sunrise\":%lld,\"sunset\":%lld,", (long long)rise, (long long)set);
        sb_num(sb, "moon_phase", spate_weather_model_moon_phase(midnight + 43200), 2);
        sb_printf(sb, "\"temp\":{");
        sb_num(sb, "day", conv_temp(r->units, s[4].temp_c), 2);
        sb_num(sb, "min", conv_temp(r->units, tmin), 2);
        sb_num(sb, "max", conv_temp(r->units, tmax), 2);
        sb_num(sb, "night", conv_temp(r->units, s[0].temp_c), 2);
        sb_num(sb, "eve", conv_temp(r->units, s[6].temp_c), 2);
        sb_num(sb, "morn", conv_temp(r->units, s[2].temp_c), 2);
        sb_close(sb, '}');
        sb_printf(sb, "\"feels_like\":{");
        sb_num(sb, "day", conv_temp(r->units, s[4].feels_like_c), 2);
        sb_num(sb, "night", conv_temp(r->units, s[0].feels_like_c), 2);
        sb_num(sb, "eve", conv_temp(r->units, s[6].feels_like_c), 2);
        sb_num(sb, "morn", conv_temp(r->units, s[2].feels_like_c), 2);
        sb_close(sb, '}');
        sb_num(sb, "pressure", s[4].pressure_hpa, 0);
        sb_num(sb, "humidity", s[4].humidity_pct, 0);
        sb_num(sb, "dew_point", conv_temp(r->units, s[4].dew_point_c), 2);
        sb_num(sb, "wind_speed", conv_speed(r->units, s[4].wind_speed_ms), 2);
        sb_num(sb, "wind_deg", s[4].wind_deg, 0);
        sb_num(sb, "wind_gust", conv_speed(r->units, s[4].wind_gust_ms), 2);
        sb_weather(sb, rain / 24.0 > 0 ? fmax(rain / 24.0 * 4.0, 0.01) : 0, s[4].clouds_pct, 1);
        sb_num(sb, "clouds", s[4].clouds_pct, 0);
        sb_num(sb, "pop", wet / 12.0, 2);
        if (rain >= 0.005)
                sb_num(sb, "rain", rain, 2);
        sb_num(sb, "uvi", s[4].uvi, 2);
        sb_close(sb, '}');
}

static void sb_daily(struct sbuf *sb, const spate_onecall_req_t *r) {
        int64_t off = spate_weather_model_tz_offset(r->lon);
        int64_t local = r->now_s + off;
        int64_t midnight = local - (local % 86400 + 86400) % 86400 - off;

        sb_printf(sb, "\"daily\":[");
        for (int d = 0; d < DAILY_N; d++)
                sb_day(sb, r, midnight + 86400LL * d);
        sb_close(sb, ']');
}

/* "Etc/GMT-2" is UTC+2: the IANA Etc zones invert the sign. */
static void sb_timezone(struct sbuf *sb, double lon) {
        int off = spate_weather_model_tz_offset(lon);
        int h = off / 3600;

        if (h == 0)
                sb_printf(sb, "\"timezone\":\"Etc/GMT\",");
        else
                sb_printf(sb, "\"timezone\":\"Etc/GMT%+d\",", -h);
        sb_printf(sb, "\"timezone_offset\":%d,", off);
}

char *spate_onecall_render(const spate_onecall_req_t *r, size_t *len) {
        struct sbuf sb = { NULL, 0, 0, 0 };

        sb.cap = r->exclude & SPATE_ONECALL_NO_HOURLY ? 4096 : 32768;
        sb.buf = malloc(sb.cap);
        if (!sb.buf)
                return NULL;
        sb_printf(&sb, "{");
        sb_num(&sb, "lat", r->lat, 4);
        sb_num(&sb, "lon", r->lon, 4);
        sb_timezone(&sb, r->lon);
        if (!(r->exclude & SPATE_ONECALL_NO_CURRENT))
                sb_current(&sb, r);
        if (!(r->exclude & SPATE_ONECALL_NO_MINUTELY))
                sb_minutely(&sb, r);
        if (!(r->exclude & SPATE_ONECALL_NO_HOURLY))
                sb_hourly(&sb, r);
        if (!(r->exclude & SPATE_ONECALL_NO_DAILY))
                sb_daily(&sb, r);
        sb_close(&sb, '}');
        if (sb.oom) {
                free(sb.buf);
                return NULL;
        }
        sb.buf[--sb.len] = '\0';        /* the trailing comma of the outer object */
        *len = sb.len;
        return sb.buf;
}

/* Current Weather (https://openweathermap.org/current): the One Call "current" observation in
 * the 2.5 endpoint's nesting (main, wind, clouds, rain, sys).  The simulator knows no places, so
 * id is 0 and name empty; temp_min/temp_max (the spread between a city's stations) equal temp
 * and sea_level/grnd_level equal pressure, as OWM answers for a single-station point. */
char *spate_current_render(const spate_onecall_req_t *r, size_t *len) {
        struct sbuf sb = { malloc(1024), 0, 1024, 0 };
        spate_weather_obs_t o;
        int64_t rise, set;

        if (!sb.buf)
                return NULL;
        spate_weather_model_observe(r->lat, r->lon, r->now_s, r->seed, &o);
        sb_printf(&sb, "{\"coord\":{");
        sb_num(&sb, "lon", r->lon, 4);
        sb_num(&sb, "lat", r->lat, 4);
        sb_close(&sb, '}');
        sb_weather(&sb, o.precip_mmh, o.clouds_pct, o.sun_elevation_deg > 0);
        sb_printf(&sb, "\"base\":\"stations\",\"main\":{");
        sb_num(&sb, "temp", conv_temp(r->units, o.temp_c), 2);
        sb_num(&sb, "feels_like", conv_temp(r->units, o.feels_like_c), 2);
        sb_num(&sb, "temp_min", conv_temp(r->units, o.temp_c), 2);
        sb_num(&sb, "temp_max", conv_temp(r->units, o.temp_c), 2);
        sb_num(&sb, "pressure", o.pressure_hpa, 0);
        sb_num(&sb, "humidity", o.humidity_pct, 0);
        sb_num(&sb, "sea_level", o.pressure_hpa, 0);
        sb_num(&sb, "grnd_level", o.pressure_hpa, 0);
        sb_close(&sb, '}');
        sb_num(&sb, "visibility", o.visibility_m, 0);
        sb_printf(&sb, "\"wind\":{");
        sb_num(&sb, "speed", conv_speed(r->units, o.wind_speed_ms), 2);
        sb_num(&sb, "deg", o.wind_deg, 0);
        sb_num(&sb, "gust", conv_speed(r->units, o.wind_gust_ms), 2);
        sb_close(&sb, '}');
        if (o.precip_mmh > 0) {
                sb_printf(&sb, "\"rain\":{");
                sb_num(&sb, "1h", o.precip_mmh, 2);
                sb_close(&sb, '}');
        }
        sb_printf(&sb, "\"clouds\":{");
        sb_num(&sb, "all", o.clouds_pct, 0);
        sb_close(&sb, '}');
        sb_printf(&sb, "\"dt\":%lld,\"sys\":{", (long long)r->now_s);
        if (spate_weather_model_sun(r->lat, r->lon, r->now_s, &rise, &set))
                sb_printf(&sb, "\"sunrise\":%lld,\"sunset\":%lld,", (long long)rise, (long long)set);
        sb_close(&sb, '}');
        sb_printf(&sb, "\"timezone\":%d,\"id\":0,\"name\":\"\",\"cod\":200}",
                  spate_weather_model_tz_offset(r->lon));
        if (sb.oom) {
                free(sb.buf);
                return NULL;
        }
        *len = sb.len;
        return sb.buf;
}
