/* weather_model.h - a deterministic synthetic weather model (moving rain cells, temperature,
 * wind) that weather-sim serves and tests recompute independently. */
#ifndef SPATE_WEATHER_MODEL_H
#define SPATE_WEATHER_MODEL_H

#include <stdint.h>

/* Number of entries in a One Call "minutely" block: the current minute plus 60. */
#define SPATE_WEATHER_MINUTELY_N 61

typedef struct {
        int64_t dt;             /* unix seconds, a multiple of 60 */
        double  precipitation;  /* mm/h, >= 0, rounded to 2 decimals */
} spate_weather_minute_t;

/* Everything the One Call "current"/"hourly" blocks need, in SI-ish units. */
typedef struct {
        double temp_c;
        double feels_like_c;
        double dew_point_c;
        double pressure_hpa;
        double humidity_pct;
        double clouds_pct;
        double wind_speed_ms;
        double wind_gust_ms;
        double wind_deg;
        double visibility_m;
        double uvi;
        double precip_mmh;      /* same value spate_weather_model_precip() returns */
        double sun_elevation_deg;
} spate_weather_obs_t;

/* Precipitation rate in mm/h at (lat, lon) at unix second t, rounded to 2 decimals.
 * Pure: the same arguments always give the same result. */
double spate_weather_model_precip(double lat, double lon, int64_t t, uint64_t seed);

/* Fills out[0..60] with the minutes starting at minute_unix_s rounded down to the minute. */
void spate_weather_model_minutely(double lat, double lon, int64_t minute_unix_s, uint64_t seed,
                                  spate_weather_minute_t out[SPATE_WEATHER_MINUTELY_N]);

/* The full observation at (lat, lon, t). */
void spate_weather_model_observe(double lat, double lon, int64_t t, uint64_t seed,
                                 spate_weather_obs_t *out);

/* Sunrise/sunset (unix s) of the local solar day containing t; returns 0 and leaves both
 * untouched during polar day or night. */
int spate_weather_model_sun(double lat, double lon, int64_t t, int64_t *sunrise,
                            int64_t *sunset);

/* Moon phase in [0, 1): 0 new moon, 0.5 full moon (OWM's convention). */
double spate_weather_model_moon_phase(int64_t t);

/* Whole-hour UTC offset from longitude (no DST), in seconds, as the served timezone uses. */
int spate_weather_model_tz_offset(double lon);

#endif
