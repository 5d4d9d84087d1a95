/* test_weather_model.c - unit tests of the deterministic weather model and its One Call rendering. */
#include "check.h"
#include "../../sim/weather_model.h"
#include "../../sim/weather_onecall.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define T0   1760000000LL       /* 2025-10-09, not minute aligned on purpose (…:20) */
#define SEED 42

static int is_2dp(double v) {
        return fabs(v * 100.0 - round(v * 100.0)) < 1e-6;
}

static void test_determinism(void) {
        spate_weather_minute_t a[SPATE_WEATHER_MINUTELY_N], b[SPATE_WEATHER_MINUTELY_N];
        int same = 1;

        spate_weather_model_minutely(48.85, 2.35, T0, SEED, a);
        spate_weather_model_minutely(48.85, 2.35, T0, SEED, b);
        for (int i = 0; i < SPATE_WEATHER_MINUTELY_N; i++)
                same &= a[i].dt == b[i].dt && a[i].precipitation == b[i].precipitation;
        CHECK(same, "same (lat, lon, minute, seed) gives the same minutely block");
        CHECK(spate_weather_model_precip(50.1, 4.2, T0, SEED) ==
              spate_weather_model_precip(50.1, 4.2, T0, SEED), "precip is a pure function");
}

static void test_minutely_shape(void) {
        spate_weather_minute_t m[SPATE_WEATHER_MINUTELY_N];
        int aligned = 1, consistent = 1;

        spate_weather_model_minutely(45.0, 1.0, T0, SEED, m);
        CHECK(m[0].dt == T0 / 60 * 60, "first dt is the minute containing t (%lld)", (long long)m[0].dt);
        for (int i = 0; i < SPATE_WEATHER_MINUTELY_N; i++) {
                aligned &= m[i].dt % 60 == 0 && m[i].dt == m[0].dt + 60 * i;
                consistent &= m[i].precipitation == spate_weather_model_precip(45.0, 1.0, m[i].dt, SEED);
        }
        CHECK(aligned, "61 entries, minute aligned, one minute apart");
        CHECK(m[60].dt - m[0].dt == 3600, "the block spans exactly one hour");
        CHECK(consistent, "minutely entries equal spate_weather_model_precip at their dt");
}

/* Scans a France/Benelux grid once and checks several properties on it. */
static void test_rain_field(void) {
        int n = 0, wet_now = 0, wet_hour = 0, nonneg = 1, rounded = 1, changes = 0, wet_pts = 0;
        double max_jump = 0, max_v = 0;

        for (double lat = 41.5; lat < 53.5; lat += 0.5)
                for (double lon = -4.5; lon < 9.5; lon += 0.5) {
                        spate_weather_minute_t m[SPATE_WEATHER_MINUTELY_N];
                        int any = 0, varies = 0;
                        spate_weather_model_minutely(lat, lon, T0, SEED, m);
                        for (int i = 0; i < SPATE_WEATHER_MINUTELY_N; i++) {
                                double v = m[i].precipitation;
                                nonneg &= v >= 0;
                                rounded &= is_2dp(v);
                                any |= v > 0;
                                varies |= i > 0 && v != m[i - 1].precipitation;
                                max_v = fmax(max_v, v);
                        }
                        /* ~110 m away: must be almost the same value */
                        double near = spate_weather_model_precip(lat + 0.001, lon + 0.001, m[0].dt, SEED);
                        max_jump = fmax(max_jump, fabs(near - m[0].precipitation));
                        n++;
                        wet_now += m[0].precipitation > 0;
                        wet_hour += any;
                        wet_pts += any;
                        changes += varies;
                }
        CHECK(nonneg, "precipitation is never negative");
        CHECK(rounded, "precipitation is rounded to 2 decimals");
        CHECK(max_v > 0.5, "some real rain exists (max %.2f mm/h)", max_v);
        CHECK(wet_now > n / 20 && wet_now < n * 6 / 10, "a fair share of points is wet now (%d of %d)",
              wet_now, n);
        CHECK(wet_hour >= n * 15 / 100 && wet_hour <= n / 2,
              "15-50%% of points see rain within the hour (%d of %d)", wet_hour, n);
        CHECK(max_jump <= 0.1, "neighbours 0.001 deg apart agree (max difference %.2f)", max_jump);
        CHECK(changes > wet_pts / 2, "wet points change from minute to minute (%d of %d)", changes,
              wet_pts);
}

static void test_time_and_seed(void) {
        int diff_seed = 0, diff_time = 0;
        for (double lat = 43; lat < 52; lat += 0.25) {
                diff_seed += spate_weather_model_precip(lat, 2.0, T0, SEED) !=
                             spate_weather_model_precip(lat, 2.0, T0, SEED + 1);
                diff_time += spate_weather_model_precip(lat, 2.0, T0, SEED) !=
                             spate_weather_model_precip(lat, 2.0, T0 + 6 * 3600, SEED);
        }
        CHECK(diff_seed > 0, "another seed gives another rain field (%d points differ)", diff_seed);
        CHECK(diff_time > 0, "the field six hours later differs (%d points differ)", diff_time);
        CHECK(spate_weather_model_precip(-33.9, 151.2, T0, SEED) >= 0 &&
              spate_weather_model_precip(89.9, 179.9, T0, SEED) >= 0 &&
              spate_weather_model_precip(-89.9, -180, T0, SEED) >= 0,
              "defined everywhere, poles and antimeridian included");
}

static void test_observation(void) {
        spate_weather_obs_t a, b;
        spate_weather_model_observe(48.85, 2.35, T0, SEED, &a);
        spate_weather_model_observe(48.86, 2.36, T0, SEED, &b);
        CHECK(a.temp_c > -30 && a.temp_c < 40, "Paris temperature is plausible (%.1f C)", a.temp_c);
        CHECK(fabs(a.temp_c - b.temp_c) < 0.5, "temperature is smooth in space (%.2f vs %.2f)",
              a.temp_c, b.temp_c);
        CHECK(a.humidity_pct >= 0 && a.humidity_pct <= 100 && a.clouds_pct >= 0 &&
              a.clouds_pct <= 100 && a.wind_speed_ms >= 0, "humidity, clouds and wind in range");
        spate_weather_model_observe(5.0, 2.35, T0, SEED, &b);
        CHECK(b.temp_c > a.temp_c, "the tropics are warmer than Paris");
}

static json_t *render(spate_onecall_req_t *r) {
        size_t len;
        char *doc = spate_onecall_render(r, &len);
        json_t *j = doc ? json_loadb(doc, len, 0, NULL) : NULL;
        free(doc);
        return j;
}

static void test_onecall(void) {
        spate_onecall_req_t r = { .lat = 48.856613, .lon = 2.352222, .now_s = T0, .seed = SEED };
        spate_weather_minute_t m[SPATE_WEATHER_MINUTELY_N];
        json_t *j = render(&r);
        json_t *mins = json_object_get(j, "minutely");
        int match = 1;

        CHECK(j != NULL, "rendered document is valid JSON");
        CHECK_NUM(json_number_value(json_object_get(j, "lat")), 48.8566, "lat rounded to 4 decimals");
        CHECK_NUM(json_number_value(json_object_get(j, "lon")), 2.3522, "lon rounded to 4 decimals");
        CHECK(json_array_size(mins) == 61, "61 minutely entries");
        spate_weather_model_minutely(r.lat, r.lon, r.now_s, SEED, m);
        for (size_t i = 0; i < json_array_size(mins); i++) {
                json_t *e = json_array_get(mins, i);
                match &= json_integer_value(json_object_get(e, "dt")) == m[i].dt &&
                         fabs(json_number_value(json_object_get(e, "precipitation")) -
                              m[i].precipitation) < 1e-9;
        }
        CHECK(match, "minutely JSON equals the model");
        CHECK(json_array_size(json_object_get(j, "hourly")) == 48 &&
              json_array_size(json_object_get(j, "daily")) == 8, "48 hourly and 8 daily entries");
        double kelvin = json_number_value(json_object_get(json_object_get(j, "current"), "temp"));
        json_decref(j);

        r.units = spate_onecall_units_parse("metric");
        r.exclude = spate_onecall_exclude_parse("hourly,daily,bogus");
        j = render(&r);
        CHECK(j && !json_object_get(j, "hourly") && !json_object_get(j, "daily") &&
              json_object_get(j, "current") && json_object_get(j, "minutely"),
              "exclude=hourly,daily drops exactly those blocks");
        double celsius = json_number_value(json_object_get(json_object_get(j, "current"), "temp"));
        CHECK(fabs(kelvin - celsius - 273.15) < 0.011, "metric is Celsius, standard Kelvin");
        json_decref(j);
        CHECK(spate_onecall_units_parse("nonsense") == SPATE_UNITS_STANDARD,
              "unknown units fall back to standard, like OWM");
}

/* Current Weather: One Call's current observation in the 2.5 endpoint's members. */
static void test_current(void) {
        spate_onecall_req_t r = { .lat = 44.34, .lon = 10.99, .now_s = T0, .seed = SEED,
                                  .units = SPATE_UNITS_METRIC };
        spate_weather_obs_t o;
        size_t len;
        char *doc = spate_current_render(&r, &len);
        json_t *j = doc ? json_loadb(doc, len, 0, NULL) : NULL;
        json_t *main_ = json_object_get(j, "main"), *wind = json_object_get(j, "wind");

        spate_weather_model_observe(r.lat, r.lon, r.now_s, SEED, &o);
        CHECK(j != NULL && strlen(doc) == len, "Current Weather document is valid JSON of the told length");
        CHECK(json_integer_value(json_object_get(j, "dt")) == T0 &&
              json_integer_value(json_object_get(j, "cod")) == 200, "dt is the request's time, cod 200");
        CHECK_NUM(json_number_value(json_object_get(main_, "temp")), round(o.temp_c * 100) / 100,
                  "main.temp is the model's, in Celsius");
        CHECK_NUM(json_number_value(json_object_get(main_, "humidity")), round(o.humidity_pct),
                  "main.humidity is the model's");
        CHECK_NUM(json_number_value(json_object_get(wind, "speed")), round(o.wind_speed_ms * 100) / 100,
                  "wind.speed is the model's");
        json_t *rain = json_object_get(json_object_get(j, "rain"), "1h");
        CHECK(o.precip_mmh > 0 ? fabs(json_number_value(rain) - o.precip_mmh) < 1e-9 : rain == NULL,
              "rain.1h is the model's rate, absent when dry (%.2f mm/h)", o.precip_mmh);
        CHECK_NUM(json_number_value(json_object_get(json_object_get(j, "coord"), "lat")), 44.34, "coord.lat");
        json_decref(j);
        free(doc);
}

/* The query parameters of /sim/onecall: t near INT64_MAX overflowed the
 * model's time arithmetic (undefined behaviour), so t is bounded. */
static void test_query(void) {
        int64_t t = -7;
        double d;
        CHECK(!spate_onecall_time_parse("1764626400", &t) && t == 1764626400, "t parsed");
        CHECK(!spate_onecall_time_parse(SPATE_ONECALL_MAX_TIME_S, &t) && t == 253402300799LL, "the last t");
        t = -7;
        CHECK(spate_onecall_time_parse("253402300800", &t) && spate_onecall_time_parse("9223372036854775807", &t) &&
              spate_onecall_time_parse("-1", &t) && spate_onecall_time_parse("12x", &t) &&
              spate_onecall_time_parse("", &t) && spate_onecall_time_parse(" 5", &t) && t == -7,
              "t past year 9999, negative, with junk, empty or spaced refused, *out untouched");
        CHECK(!spate_onecall_coord_parse("-90", -90, 90, &d) && d == -90, "latitude at the pole");
        CHECK(spate_onecall_coord_parse("nan", -90, 90, &d) && spate_onecall_coord_parse("91", -90, 90, &d) &&
              spate_onecall_coord_parse("1e999", -180, 180, &d) && spate_onecall_coord_parse("5,", -90, 90, &d),
              "NaN, out of range, overflowing or trailing bytes refused");
}

int main(void) {
        test_query();
        test_determinism();
        test_minutely_shape();
        test_rain_field();
        test_time_and_seed();
        test_observation();
        test_onecall();
        test_current();
        return CHECK_DONE();
}
