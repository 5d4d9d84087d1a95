/* onecall_query.c - fuzzes what `spate weather-sim` does with a query's
 * parameters (sim/weather_onecall.c): the input is a query string
 * "lat=..&lon=..&t=..&units=..&exclude=.." (libmicrohttpd splits and decodes
 * it in the server); whatever the parsers accept must render to valid JSON
 * without undefined behaviour (a `t` near INT64_MAX overflowed the model's
 * time arithmetic).
 *
 * A render evaluates the weather model about 450 times and costs ~5 ms under
 * ASan and UBSan, and most inputs that reach it repeat a request already
 * rendered (mutations of bytes the parsers ignore: 84% of them in a 20 s run).
 * A render is a pure function of the request, so each distinct request is
 * rendered once per process: ~950 execs/s became ~2,990 (20 s runs, same load). */
#include "fuzz.h"
#include "../../sim/weather_onecall.h"

#include <jansson.h>

/* The value of `name` in the '&'-separated q, or NULL. */
static const char *param(char *q, size_t n, const char *name, char *out, size_t size) {
        size_t len = strlen(name);
        for (char *p = q; p < q + n;) {
                size_t k = strcspn(p, "&");
                if (k > len && p[len] == '=' && !strncmp(p, name, len)) {
                        snprintf(out, size, "%.*s", (int)(k - len - 1), p + len + 1);
                        return out;
                }
                p += k + 1;
        }
        return NULL;
}

/* The requests this process rendered, direct-mapped by a hash: a collision
 * only renders a request again. */
#define SEEN_N 65536
static struct seen {
        double   lat, lon;
        int64_t  now_s;
        unsigned units, exclude, used;
} seen[SEEN_N];

/* 1 if req was rendered before; else remembers it and returns 0. */
static int rendered_before(const spate_onecall_req_t *req) {
        uint64_t h = 0xcbf29ce484222325ULL, bits[3];
        memcpy(&bits[0], &req->lat, sizeof(double));
        memcpy(&bits[1], &req->lon, sizeof(double));
        bits[2] = (uint64_t)req->now_s ^ ((uint64_t)req->units << 40) ^ ((uint64_t)req->exclude << 48);
        for (int i = 0; i < 3; i++)
                h = (h ^ bits[i]) * 0x100000001b3ULL ^ (h >> 29);
        struct seen *s = &seen[h % SEEN_N];
        if (s->used && !memcmp(&s->lat, &req->lat, sizeof(double)) && !memcmp(&s->lon, &req->lon, sizeof(double)) &&
            s->now_s == req->now_s && s->units == (unsigned)req->units && s->exclude == req->exclude)
                return 1;
        *s = (struct seen){ req->lat, req->lon, req->now_s, (unsigned)req->units, req->exclude, 1 };
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *q = fuzz_strndup(data, size), lat[64], lon[64], t[64], units[64], excl[128];
        const char *t_s;
        spate_onecall_req_t req = { .seed = 42, .now_s = 1764626400 };
        size_t len;
        if (!spate_onecall_coord_parse(param(q, size, "lat", lat, sizeof(lat)), -90, 90, &req.lat) &&
            !spate_onecall_coord_parse(param(q, size, "lon", lon, sizeof(lon)), -180, 180, &req.lon) &&
            (!(t_s = param(q, size, "t", t, sizeof(t))) || !spate_onecall_time_parse(t_s, &req.now_s))) {
                req.units = spate_onecall_units_parse(param(q, size, "units", units, sizeof(units)));
                req.exclude = spate_onecall_exclude_parse(param(q, size, "exclude", excl, sizeof(excl)));
                if (rendered_before(&req)) {
                        free(q);
                        return 0;
                }
                char *body = spate_onecall_render(&req, &len);
                json_t *doc = body ? json_loadb(body, len, 0, NULL) : NULL;
                if (body && !doc)
                        abort();  /* the simulator answered invalid JSON */
                json_decref(doc);
                free(body);
        }
        free(q);
        return 0;
}
