/* weather_model.c - deterministic synthetic weather: drifting rain cells plus smooth fields.
 *
 * The model is a pure function of (lat, lon, unix time, seed); nothing is stored, so any
 * process (the simulator, a unit test, a replay) computes identical values.
 *
 * Rain.  The globe is cut into TILE_DEG x TILE_DEG tiles; each tile owns SLOTS cell slots.
 * A slot lives through successive epochs of a fixed lifetime (3-8 h, with a per-slot phase so
 * epochs do not all roll over together).  For each (tile, slot, epoch) a hash decides whether a
 * rain cell exists (probability scaled by cos(lat) so coverage per km2 is the same everywhere)
 * and draws its parameters:
 *   - mid-life centre uniformly inside the tile, drift velocity (westerly in mid-latitudes,
 *     easterly in the tropics, plus jitter), so the centre moves linearly with time;
 *   - an ellipse (radius 35-90 km, aspect 1-2.4, random orientation, max extent < R_MAX_KM);
 *   - a peak intensity 0.3-6.3 mm/h skewed towards light rain.
 * Intensity at a point is  peak * sin(pi * age/lifetime) * (1 - r^2)^2  for r < 1 (r the
 * elliptical distance), a smooth compact "Gaussian-ish" bump that grows and decays over the
 * cell's life.  Overlapping cells add.  Because every term is continuous in space and time,
 * neighbouring points agree and values change a little every minute; roughly a quarter of the
 * points in France/Benelux see rain at a given minute and about a third within an hour.
 * The rate is rounded to 2 decimals (OWM style), so rates under 0.005 mm/h read as 0.
 *
 * Everything else is smooth and cheap: temperature = latitude climate + season + a diurnal
 * cycle peaking 15:00 solar time + 3-D value noise (lat, lon, 6 h) - cooling under rain;
 * pressure, humidity, clouds and wind are value-noise fields nudged by the local rain rate.
 */
#include "weather_model.h"

#include <math.h>

#define TILE_DEG      4.0
#define TILES_LON     90                 /* 360 / TILE_DEG */
#define SLOTS         4
#define P_ACTIVE_47   0.70               /* activation probability at 47 N, scaled by cos */
#define LIFE_MIN_S    (3 * 3600)
#define LIFE_MAX_S    (8 * 3600)
#define VLAT_MAX      0.25               /* deg/h */
#define VLON_MAX      0.70               /* deg/h, bound of |base + jitter| */
#define R_MIN_KM      35.0
#define R_MAX_KM      140.0              /* bound of radius * sqrt(aspect) */
#define KM_PER_DEG    111.2
#define MIN_COSLAT    0.05               /* keeps the polar search finite */

struct cell {
        double lat, lon;        /* centre at the evaluated time */
        double amp;             /* peak * life envelope, mm/h */
        double a_km, b_km;      /* semi-axes */
        double cos_t, sin_t;    /* orientation */
};

static uint64_t mix64(uint64_t x) {
        x += 0x9E3779B97F4A7C15ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        return x ^ (x >> 31);
}

static uint64_t hash4(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
        return mix64(mix64(mix64(mix64(seed) ^ a) ^ b) ^ c);
}

/* Uniform in [0, 1) from the top 53 bits. */
static double unit(uint64_t h) {
        return (double)(h >> 11) * 0x1.0p-53;
}

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static double wrap180(double d) {
        d = fmod(d + 180.0, 360.0);
        return d < 0 ? d + 180.0 : d - 180.0;
}

static double clamp(double v, double lo, double hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

/* Fills *c with the cell in slot `slot` of tile (iy, ix) at time t; returns 0 if the slot is
 * empty in the current epoch.  Parameters are drawn lazily so most rejects stay cheap. */
static int cell_at(uint64_t seed, int iy, int ix, int slot, int64_t t, struct cell *c) {
        uint64_t hs = hash4(seed, (uint64_t)(int64_t)iy, (uint64_t)ix, (uint64_t)slot);
        int64_t life = LIFE_MIN_S + (int64_t)(unit(hs) * (LIFE_MAX_S - LIFE_MIN_S));
        int64_t phase = (int64_t)(unit(mix64(hs ^ 1)) * (double)life);
        int64_t epoch = floor_div(t + phase, life);
        double age = (double)(t + phase - epoch * life);
        uint64_t h = mix64(hs ^ mix64((uint64_t)epoch));
        double lat_c = (iy + 0.5) * TILE_DEG;
        double p = P_ACTIVE_47 * cos(lat_c * M_PI / 180.0) / cos(47.0 * M_PI / 180.0);

        if (unit(h) >= p)
                return 0;
        double mid_lat = (iy + unit(mix64(h + 1))) * TILE_DEG;
        double mid_lon = (ix + unit(mix64(h + 2))) * TILE_DEG;
        double base_vlon = fabs(mid_lat) < 25.0 ? -0.30 : 0.40;
        double vlon = base_vlon + (unit(mix64(h + 3)) - 0.5) * 0.6;
        double vlat = (unit(mix64(h + 4)) - 0.5) * 2.0 * VLAT_MAX;
        double hours_from_mid = (age - 0.5 * (double)life) / 3600.0;

        c->lat = mid_lat + vlat * hours_from_mid;
        c->lon = mid_lon + vlon * hours_from_mid;
        double u = unit(mix64(h + 5));
        c->amp = (0.3 + 6.0 * u * u * u) * sin(M_PI * age / (double)life);
        double radius = R_MIN_KM + unit(mix64(h + 6)) * (90.0 - R_MIN_KM);
        double aspect = 1.0 + 1.4 * unit(mix64(h + 7));
        c->a_km = radius * sqrt(aspect);
        c->b_km = radius / sqrt(aspect);
        double theta = M_PI * unit(mix64(h + 8));
        c->cos_t = cos(theta);
        c->sin_t = sin(theta);
        return 1;
}

static double cell_rate(const struct cell *c, double lat, double lon, double coslat) {
        double y = (lat - c->lat) * KM_PER_DEG;
        double x = wrap180(lon - c->lon) * coslat * KM_PER_DEG;
        if (fabs(x) > R_MAX_KM || fabs(y) > R_MAX_KM)
                return 0.0;
        double xr = (x * c->cos_t + y * c->sin_t) / c->a_km;
        double yr = (-x * c->sin_t + y * c->cos_t) / c->b_km;
        double r2 = xr * xr + yr * yr;
        if (r2 >= 1.0)
                return 0.0;
        return c->amp * (1.0 - r2) * (1.0 - r2);
}

/* Unrounded rate: visits every tile whose cells could reach the point within their life. */
static double precip_raw(double lat, double lon, int64_t t, uint64_t seed) {
        double coslat = fmax(cos(lat * M_PI / 180.0), MIN_COSLAT);
        double half_life_h = LIFE_MAX_S / 7200.0;
        double reach_lat = VLAT_MAX * half_life_h + R_MAX_KM / KM_PER_DEG;
        double reach_lon = VLON_MAX * half_life_h + R_MAX_KM / (KM_PER_DEG * coslat);
        int iy0 = (int)floor((lat - reach_lat) / TILE_DEG);
        int iy1 = (int)floor((lat + reach_lat) / TILE_DEG);
        int ix0 = (int)floor((lon - reach_lon) / TILE_DEG);
        int ix1 = (int)floor((lon + reach_lon) / TILE_DEG);
        double sum = 0.0;
        struct cell c;

        if (ix1 - ix0 >= TILES_LON)
                ix1 = ix0 + TILES_LON - 1;
        for (int iy = iy0; iy <= iy1; iy++)
                for (int ix = ix0; ix <= ix1; ix++)
                        for (int s = 0; s < SLOTS; s++)
                                if (cell_at(seed, iy, ((ix % TILES_LON) + TILES_LON) % TILES_LON,
                                            s, t, &c))
                                        sum += cell_rate(&c, lat, lon, coslat);
        return sum;
}

double spate_weather_model_precip(double lat, double lon, int64_t t, uint64_t seed) {
        return round(precip_raw(lat, lon, t, seed) * 100.0) / 100.0;
}

void spate_weather_model_minutely(double lat, double lon, int64_t minute_unix_s, uint64_t seed,
                                  spate_weather_minute_t out[SPATE_WEATHER_MINUTELY_N]) {
        int64_t m0 = floor_div(minute_unix_s, 60) * 60;
        for (int i = 0; i < SPATE_WEATHER_MINUTELY_N; i++) {
                out[i].dt = m0 + 60 * i;
                out[i].precipitation = spate_weather_model_precip(lat, lon, out[i].dt, seed);
        }
}

static double smoothstep(double f) {
        return f * f * (3.0 - 2.0 * f);
}

/* 3-D value noise in [-1, 1], smooth in all coordinates (lattice spacing 1). */
static double value_noise3(uint64_t seed, double x, double y, double z) {
        double fx = floor(x), fy = floor(y), fz = floor(z);
        double tx = smoothstep(x - fx), ty = smoothstep(y - fy), tz = smoothstep(z - fz);
        int64_t ix = (int64_t)fx, iy = (int64_t)fy, iz = (int64_t)fz;
        double v[8];

        for (int i = 0; i < 8; i++)
                v[i] = unit(hash4(seed, (uint64_t)(ix + (i & 1)), (uint64_t)(iy + ((i >> 1) & 1)),
                                  (uint64_t)(iz + ((i >> 2) & 1)))) * 2.0 - 1.0;
        for (int i = 0; i < 4; i++)
                v[i] = v[i] + (v[i + 4] - v[i]) * tz;
        v[0] = v[0] + (v[2] - v[0]) * ty;
        v[1] = v[1] + (v[3] - v[1]) * ty;
        return v[0] + (v[1] - v[0]) * tx;
}

/* A smooth field of (lat, lon, t) in about [-1, 1] with ~3 degree, 6 hour correlation scale;
 * `which` separates independent fields.  (It has a seam at the antimeridian; nobody in this
 * simulator lives there.) */
static double field(uint64_t seed, int which, double lat, double lon, int64_t t) {
        return value_noise3(seed ^ (0x51EDULL * (uint64_t)(which + 1)), lat / 3.0, lon / 3.0,
                            (double)t / 21600.0);
}

static double day_of_year(int64_t t) {
        return fmod((double)t / 86400.0, 365.2422);
}

static double sun_declination_rad(int64_t t) {
        return 23.44 * M_PI / 180.0 * sin(2.0 * M_PI * (284.0 + day_of_year(t)) / 365.2422);
}

static double solar_hour(double lon, int64_t t) {
        double h = fmod((double)t / 3600.0 + lon / 15.0, 24.0);
        return h < 0 ? h + 24.0 : h;
}

static double sun_elevation_deg(double lat, double lon, int64_t t) {
        double phi = lat * M_PI / 180.0, dec = sun_declination_rad(t);
        double ha = (solar_hour(lon, t) - 12.0) * 15.0 * M_PI / 180.0;
        double s = sin(phi) * sin(dec) + cos(phi) * cos(dec) * cos(ha);
        return asin(clamp(s, -1.0, 1.0)) * 180.0 / M_PI;
}

static double temperature_c(double lat, double lon, int64_t t, uint64_t seed, double rain,
                            double clouds) {
        double alat = fabs(lat);
        double season = cos(2.0 * M_PI * (day_of_year(t) - 196.0) / 365.2422);
        double hemi = lat >= 0 ? 1.0 : -1.0;
        double diurnal = 4.0 * (1.0 - 0.5 * clouds / 100.0) *
                         cos(2.0 * M_PI * (solar_hour(lon, t) - 15.0) / 24.0);
        return 30.0 - 0.45 * alat + 0.18 * alat * hemi * season + diurnal +
               1.5 * field(seed, 1, lat, lon, t) - 0.8 * fmin(rain, 3.0);
}

static double feels_like_c(double temp, double wind_ms, double humidity) {
        double v = wind_ms * 3.6;
        if (temp <= 10.0 && v > 4.8) {
                double p = pow(v, 0.16);
                return 13.12 + 0.6215 * temp - 11.37 * p + 0.3965 * temp * p;
        }
        if (temp >= 27.0)
                return temp + 0.05 * (humidity - 40.0);
        return temp;
}

static double dew_point_c(double temp, double humidity) {
        double g = log(fmax(humidity, 1.0) / 100.0) + 17.62 * temp / (243.12 + temp);
        return 243.12 * g / (17.62 - g);
}

void spate_weather_model_observe(double lat, double lon, int64_t t, uint64_t seed,
                                 spate_weather_obs_t *o) {
        double rain = spate_weather_model_precip(lat, lon, t, seed);
        double wet = fmin(rain, 3.0);

        o->precip_mmh = rain;
        o->clouds_pct = rain > 0 ? clamp(90.0 + 4.0 * wet, 0, 100)
                                 : clamp(45.0 + 60.0 * field(seed, 2, lat, lon, t), 0, 100);
        o->temp_c = temperature_c(lat, lon, t, seed, rain, o->clouds_pct);
        o->humidity_pct = clamp(62.0 + 22.0 * field(seed, 3, lat, lon, t) + 8.0 * wet, 15, 100);
        o->pressure_hpa = 1013.0 + 14.0 * field(seed, 4, lat, lon, t) - 3.0 * wet;
        o->wind_speed_ms = 4.0 + 3.0 * field(seed, 5, lat, lon, t) + 0.9 * wet;
        o->wind_gust_ms = o->wind_speed_ms * (1.35 + 0.1 * wet);
        double deg = fmod(250.0 + 160.0 * field(seed, 6, lat, lon, t) + 360.0, 360.0);
        o->wind_deg = deg;
        o->visibility_m = clamp(10000.0 - 1800.0 * rain, 800, 10000);
        o->sun_elevation_deg = sun_elevation_deg(lat, lon, t);
        o->uvi = fmax(0.0, sin(o->sun_elevation_deg * M_PI / 180.0)) * 9.0 *
                 (1.0 - 0.7 * o->clouds_pct / 100.0);
        o->feels_like_c = feels_like_c(o->temp_c, o->wind_speed_ms, o->humidity_pct);
        o->dew_point_c = dew_point_c(o->temp_c, o->humidity_pct);
}

int spate_weather_model_sun(double lat, double lon, int64_t t, int64_t *sunrise,
                            int64_t *sunset) {
        double phi = lat * M_PI / 180.0, dec = sun_declination_rad(t);
        /* -0.833 degrees: refraction plus the solar disc, as almanacs define sunrise. */
        double c = (sin(-0.833 * M_PI / 180.0) - sin(phi) * sin(dec)) / (cos(phi) * cos(dec));
        if (c < -1.0 || c > 1.0)
                return 0;
        double half_day_s = acos(c) * 180.0 / M_PI / 15.0 * 3600.0;
        int64_t local = t + (int64_t)(lon / 15.0 * 3600.0);
        int64_t noon = floor_div(local, 86400) * 86400 + 43200 - (int64_t)(lon / 15.0 * 3600.0);
        *sunrise = noon - (int64_t)half_day_s;
        *sunset = noon + (int64_t)half_day_s;
        return 1;
}

double spate_weather_model_moon_phase(int64_t t) {
        double p = fmod(((double)t - 947182440.0) / 86400.0 / 29.530588853, 1.0);
        return p < 0 ? p + 1.0 : p;
}

int spate_weather_model_tz_offset(double lon) {
        return (int)lround(clamp(lon, -180.0, 180.0) / 15.0) * 3600;
}
