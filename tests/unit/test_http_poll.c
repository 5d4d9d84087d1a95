/* test_http_poll.c - http_poll's pure logic: One Call validation against the
 * real responses in $SHARED_DATA/owm (sums checked with jansson, an
 * independent parser), error bodies, member stripping, URL templates, key
 * redaction, phase spreading, the token bucket and backoff on a fake clock. */
#include "check.h"
#include "../../connectors/http_poll/http_poll.h"
#include "../../util/arena.h"

#include <jansson.h>
#include <stdlib.h>

static char *slurp(const char *path, size_t *len) {
        FILE *fp = fopen(path, "rb");
        char *buf;
        long n;
        if (!fp)
                return NULL;
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        rewind(fp);
        buf = malloc((size_t)n + 1);
        *len = fread(buf, 1, (size_t)n, fp);
        buf[*len] = '\0';
        fclose(fp);
        return buf;
}

static spate_shape_pool_t pool;
static hp_onecall_t oc;
static spate_arena_t arena;

static int decode(const char *body, size_t len, int min, spate_value_t *v, char *why) {
        spate_arena_reset(&arena);
        return hp_onecall_decode(&oc, body, len, min, &arena, v, why, 512);
}

static double sum_minutely(const spate_value_t *v, uint32_t *n) {
        const spate_value_t *m = &v->u.items[oc.f_minutely];
        double s = 0;
        for (uint32_t i = 0; i < m->n; i++)
                s += m->u.items[i].u.items[oc.f_precip].u.num;
        *n = m->n;
        return s;
}

/* The same sum computed by jansson from the file. */
static double jansson_sum(const char *path, size_t *n) {
        json_error_t e;
        json_t *root = json_load_file(path, 0, &e), *m, *it;
        double s = 0;
        size_t i;
        *n = 0;
        if (!root)
                return -1;
        m = json_object_get(root, "minutely");
        json_array_foreach(m, i, it) {
                s += json_number_value(json_object_get(it, "precipitation"));
                (*n)++;
        }
        json_decref(root);
        return s;
}

static void test_real_files(void) {
        const char *dir = getenv("SHARED_DATA");
        char path[1024], why[512];
        spate_value_t v;
        size_t len;
        char *body;

        snprintf(path, sizeof(path), "%s/owm/onecall_copenhagen_rain.json", dir ? dir : ".");
        if (!dir || !(body = slurp(path, &len))) {
                printf("ok %d - real One Call files # SKIP $SHARED_DATA/owm not found\n", ++check_n);
                return;
        }
        uint32_t n = 0;
        CHECK(decode(body, len, 60, &v, why) == 0, "copenhagen decodes (%s)", why);
        double s = sum_minutely(&v, &n);
        CHECK(n == 61, "copenhagen has 61 minutely entries (%u)", n);
        CHECK(s == 44.021399999999986, "copenhagen's next hour sums to 44.021399999999986 exactly (%.17g)", s);
        /* truncated halfway, like a dropped connection */
        CHECK(decode(body, len / 2, 60, &v, why) == -1 && strstr(why, "not JSON"),
              "copenhagen cut in half is rejected: %s", why);
        free(body);

        static const char *const files[] = {
                "onecall_colombo.json", "onecall_gothenburg.json", "onecall_lahore.json",
                "onecall_le_havre_lang-fr.json", "onecall_saint-jean-sur-richelieu_lang-fr.json",
                "onecall_stockholm.json", "onecall_copenhagen_rain.json",
        };
        for (size_t f = 0; f < sizeof(files) / sizeof(*files); f++) {
                size_t jn;
                snprintf(path, sizeof(path), "%s/owm/%s", dir, files[f]);
                if (!(body = slurp(path, &len))) {
                        CHECK(0, "%s readable", files[f]);
                        continue;
                }
                double want = jansson_sum(path, &jn);
                int rc = decode(body, len, 60, &v, why);
                CHECK(rc == 0, "%s is a valid One Call answer (%s)", files[f], rc ? why : "ok");
                if (!rc) {
                        s = sum_minutely(&v, &n);
                        CHECK(n == jn && s == want, "%s: %u minutely entries summing to %.17g (jansson: %zu, %.17g)",
                              files[f], n, s, jn, want);
                }
                free(body);
        }

        /* OWM's documentation example cuts every array to one item. A short
         * minutely cannot give the next hour's rain, so it is rejected by
         * default (min_minutely: 60) and accepted only when asked for. */
        snprintf(path, sizeof(path), "%s/owm/onecall_owm_docs_example.json", dir);
        if ((body = slurp(path, &len))) {
                CHECK(decode(body, len, 60, &v, why) == -1 && strstr(why, "minutely has 1 entries"),
                      "the docs example (1 minutely entry) is rejected: %s", why);
                CHECK(decode(body, len, 1, &v, why) == 0 && sum_minutely(&v, &n) == 0.205 && n == 1,
                      "with min_minutely 1 it is accepted, sum 0.205");
                free(body);
        }
        static const struct { const char *file, *want; } errs[] = {
                { "error_401_invalid_key.json", "no minutely array: API error 401: Invalid API key" },
                { "error_429_rate_limit.json", "no minutely array: API error 429: Your account is temporary blocked" },
                { "error_404_city_not_found.json", "no minutely array: API error 404: city not found" },
                { "weather_current_zocca.json", "no minutely array" },
        };
        for (size_t f = 0; f < sizeof(errs) / sizeof(*errs); f++) {
                snprintf(path, sizeof(path), "%s/owm/%s", dir, errs[f].file);
                if (!(body = slurp(path, &len))) {
                        CHECK(0, "%s readable", errs[f].file);
                        continue;
                }
                CHECK(decode(body, len, 60, &v, why) == -1 && !strncmp(why, errs[f].want, strlen(errs[f].want)),
                      "%s is rejected: %s", errs[f].file, why);
                free(body);
        }
}

static void test_bad_bodies(void) {
        static const struct { const char *body, *want; } cases[] = {
                { "", "empty body" },
                { "<html>502</html>", "not JSON" },
                { "[1,2]", "not JSON" },
                { "{\"minutely\":\"unavailable\"}", "minutely is string, not an array" },
                { "{\"minutely\":[{\"dt\":1}]}", "minutely has 1 entries, fewer than 60" },
                { "{\"lat\":1,\"minutely\":[", "not JSON" },
                { "{\"cod\":\"404\",\"message\":\"city not found\"}", "no minutely array: API error 404: city not found" },
        };
        char why[512];
        spate_value_t v;
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
                CHECK(decode(cases[i].body, strlen(cases[i].body), 60, &v, why) == -1 &&
                      strstr(why, cases[i].want), "bad body %s -> %s", cases[i].body, why);
        const char *one = "{\"minutely\":[{\"dt\":1,\"precipitation\":0},{\"dt\":2}]}";
        CHECK(decode(one, strlen(one), 1, &v, why) == -1 && strstr(why, "minutely[1] lacks"),
              "an entry without precipitation: %s", why);
        CHECK(decode("{\"current\":{}}", 14, 0, &v, why) == 0, "min_minutely 0 accepts no minutely");
        const char *neg = "{\"minutely\":[{\"dt\":1,\"precipitation\":0.2},{\"dt\":2,\"precipitation\":-0.31}]}";
        CHECK(decode(neg, strlen(neg), 2, &v, why) == -2 &&
              !strcmp(why, "minutely[1].precipitation is -0.31: an intensity cannot be negative"),
              "a negative precipitation rejects the answer (-2, not retried): %s", why);
        const char *zero = "{\"minutely\":[{\"dt\":1,\"precipitation\":-0}]}";
        CHECK(decode(zero, strlen(zero), 1, &v, why) == 0, "-0 is zero, not negative");
        char msg[400];
        const char *e401 = "{\"cod\":401, \"message\": \"Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.\"}";
        spate_arena_reset(&arena);
        CHECK(hp_api_message(&oc, e401, strlen(e401), &arena, msg, sizeof(msg)) == 0 &&
              !strcmp(msg, "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."),
              "the API's own message of a 401: %s", msg);
        CHECK(hp_api_message(&oc, "<html>", 6, &arena, msg, sizeof(msg)) == -1 &&
              hp_api_message(&oc, "", 0, &arena, msg, sizeof(msg)) == -1, "no message in a body that has none");
}

static void test_strip(void) {
        static const char *const names[] = { "lat", "lon" };
        const char *in = " { \"lat\" : 1.5 , \"lon\":-2,\"a\":{\"lat\":3,\"x\":[1,{\"lon\":2}]},"
                         "\"b\":\"x\\\"lat\",\"lonx\":true , \"c\":null } ";
        spate_buf_t b = { 0 };
        hp_strip_members(&b, in, strlen(in), names, 2);
        spate_buf_putc(&b, '\0');
        CHECK_STR(b.data, "{\"a\":{\"lat\":3,\"x\":[1,{\"lon\":2}]},\"b\":\"x\\\"lat\",\"lonx\":true ,\"c\":null }",
                  "top-level lat/lon stripped, nested ones kept");
        b.len = 0;
        hp_strip_members(&b, "{\"lat\":1}", 9, names, 2);
        spate_buf_putc(&b, '\0');
        CHECK_STR(b.data, "{}", "an object of stripped members only");
        spate_buf_free(&b);
}

static void test_url_redact(void) {
        char out[512], red[512];
        int n = hp_url_expand("http://h/onecall?lat={lat}&lon={lon}&q={id}&appid=SECRETKEY123",
                              "a b/é", 55.7842, -12.5, out, sizeof(out));
        CHECK(n > 0, "template expands");
        CHECK_STR(out, "http://h/onecall?lat=55.7842&lon=-12.5&q=a%20b%2F%C3%A9&appid=SECRETKEY123",
                  "lat/lon shortest form, id percent-encoded");
        CHECK(hp_url_expand("http://h/{id}", "x", 0, 0, out, 10) == -1, "too long is an error");
        hp_redact("GET http://h/x?lat=1&appid=SECRETKEY123&lon=2", NULL, red, sizeof(red));
        CHECK_STR(red, "GET http://h/x?lat=1&appid=***&lon=2", "appid value redacted");
        hp_redact("u?key=abc&api_key=def#f&token=ghi&access_token=jkl&x=1", NULL, red, sizeof(red));
        CHECK_STR(red, "u?key=***&api_key=***#f&token=***&access_token=***&x=1",
                  "key, api_key, token, access_token redacted");
        hp_redact("error: bad key SECRETKEY123 in SECRETKEY123x", "SECRETKEY123", red, sizeof(red));
        CHECK_STR(red, "error: bad key *** in ***x", "the literal key is redacted anywhere");
        hp_redact("appid=abc", "ab", red, 6);
        CHECK_STR(red, "appid", "short secrets ignored; output always terminated");
}

static void test_schedule(void) {
        const int64_t every = 60000, now = 1700000012345;
        int buckets[60] = { 0 }, bad = 0;
        char id[16];
        for (int i = 1; i <= 6000; i++) {
                int l = snprintf(id, sizeof(id), "c%06d", i);
                int64_t ph = hp_phase(id, (size_t)l, every);
                int64_t t = hp_first_slot(ph, every, now);
                bad += !(t >= now && t < now + every && t % every == ph);
                buckets[ph / 1000]++;
        }
        CHECK(bad == 0, "first slots are within one interval at the id's phase (%d wrong)", bad);
        int lo = 1 << 30, hi = 0;
        for (int i = 0; i < 60; i++) {
                lo = buckets[i] < lo ? buckets[i] : lo;
                hi = buckets[i] > hi ? buckets[i] : hi;
        }
        CHECK(lo >= 60 && hi <= 140, "6000 ids spread over 60 s: every second gets 60..140 (got %d..%d)", lo, hi);
        CHECK(hp_phase("c000001", 7, every) == hp_phase("c000001", 7, every), "phase is stable");
        CHECK(hp_next_slot(60000, every, 0) == 120000, "next slot one interval later");
        CHECK(hp_next_slot(60000, every, 120000) == 120000, "a slot at not_before is kept");
        CHECK(hp_next_slot(60000, every, 120001) == 180000, "a slot before not_before is skipped, not shifted");
        CHECK(hp_next_slot(60000, every, 305000) == 360000, "several missed slots skipped at once");
        int ok = 1;
        for (int a = 1; a <= 10; a++)
                for (uint64_t r = 0; r < 1000; r += 37) {
                        int64_t d = hp_backoff(a, 500, 15000, r * 2654435761u);
                        int64_t full = 500LL << (a - 1) < 15000 ? 500LL << (a - 1) : 15000;
                        ok &= d >= full / 2 && d <= full;
                }
        CHECK(ok, "backoff doubles from 500 ms with jitter in [d/2, d], capped at 15 s");
}

/* One coordinate of the simulated schedule. */
typedef struct sim_coord {
        hp_entry_t e;
        int64_t phase;
        int64_t started, finish;   /* the request in flight (finish 0: none) */
        int64_t base, after;       /* start within the baseline / the measured interval */
        int n_base, n_after;
        int64_t last;              /* start of its previous poll */
} sim_coord_t;

/* A fake clock and a fake server: 600 coordinates polled every 60 s, 16
 * requests in flight, answers in 20 ms, except between 180 s and 240 s when
 * they take 3 s (5 requests/s for the 10/s needed: a backlog of ~300). The
 * schedule must come back to each coordinate's own phase: in the second
 * interval after the slow minute, every coordinate is polled at the same
 * offset in the interval as before it, so the request rate is as flat as it
 * was. Polls of one coordinate: never two in one slot, never closer than
 * every / 2. */
static void test_schedule_backlog(void) {
        enum { N = 600, C = 16 };
        const int64_t every = 60000, t0 = 1700000000000, slow0 = t0 + 180000, slow1 = t0 + 240000;
        const int64_t base0 = t0 + 60000, after0 = slow1 + every, end = slow1 + 3 * every;
        static sim_coord_t cs[N];
        hp_queue_t q = { 0 };
        int inflight = 0, twice = 0, close = 0;
        int64_t worst_late = 0, closest = every;
        char id[16];
        for (int i = 0; i < N; i++) {
                int l = snprintf(id, sizeof(id), "c%06d", i);
                cs[i] = (sim_coord_t){ .phase = hp_phase(id, (size_t)l, every) };
                hp_entry_first(&q, &cs[i].e, cs[i].phase, every, t0);
        }
        for (int64_t t = t0; t < end; t += 10) {
                for (int i = 0; i < N; i++)
                        if (cs[i].finish && cs[i].finish <= t) {
                                cs[i].finish = 0;
                                inflight--;
                                hp_entry_ok(&q, &cs[i].e, every, cs[i].started);
                        }
                hp_entry_t *e;
                while (inflight < C && (e = hp_queue_top(&q)) && e->due <= t) {
                        sim_coord_t *c = (sim_coord_t *)e;
                        hp_queue_remove(&q, e);
                        if (t - e->slot > worst_late)
                                worst_late = t - e->slot;
                        twice += c->last && (c->last - c->phase) / every == (t - c->phase) / every;
                        if (c->last && t - c->last < closest)
                                closest = t - c->last;
                        close += c->last && t - c->last < every / 2;
                        c->last = c->started = t;
                        c->finish = t + (t >= slow0 && t < slow1 ? 3000 : 20);
                        inflight++;
                        if (t >= base0 && t < base0 + every) {
                                c->base = (t - base0) % every;
                                c->n_base++;
                        }
                        if (t >= after0 && t < after0 + every) {
                                c->after = (t - after0) % every;
                                c->n_after++;
                        }
                }
        }
        int once = 0, same = 0, hist_base[60] = { 0 }, hist_after[60] = { 0 };
        for (int i = 0; i < N; i++) {
                once += cs[i].n_base == 1 && cs[i].n_after == 1;
                same += cs[i].n_after == 1 && cs[i].after == cs[i].base;
                hist_base[cs[i].base / 1000] += cs[i].n_base;
                hist_after[cs[i].after / 1000] += cs[i].n_after;
        }
        int max_base = 0, max_after = 0;
        for (int s = 0; s < 60; s++) {
                max_base = hist_base[s] > max_base ? hist_base[s] : max_base;
                max_after = hist_after[s] > max_after ? hist_after[s] : max_after;
        }
        CHECK(worst_late > 20000, "the slow minute makes a backlog (a poll started %lld ms after its slot)",
              (long long)worst_late);
        CHECK(once == N, "every coordinate is polled once in the interval before and in the second after it (%d of %d)",
              once, N);
        CHECK(same == N, "and at the same offset in the interval: back on its own phase (%d of %d)", same, N);
        CHECK(max_after == max_base, "so the busiest second is as busy as before the backlog (%d, before %d)",
              max_after, max_base);
        CHECK(twice == 0, "never two polls of a coordinate in one slot (%d)", twice);
        CHECK(close == 0, "never two polls closer than every / 2 (closest %lld ms)", (long long)closest);

        /* retries stay inside the slot; giving up moves to the next slot */
        hp_entry_t e;
        hp_entry_first(&q, &e, 5000, every, 0);
        hp_queue_remove(&q, &e);
        CHECK(e.slot == 5000, "first slot at the phase");
        CHECK(hp_entry_retry(&q, &e, every, 6000, 1000, 6) && e.due == 7000 && e.attempt == 1,
              "a failed attempt is retried after its delay");
        hp_queue_remove(&q, &e);
        CHECK(!hp_entry_retry(&q, &e, every, 50000, 10000, 6) && e.attempt == 2 && e.heap == -1,
              "no retry into the last tenth of the interval");
        hp_entry_skip(&q, &e, every, 50000);
        CHECK(e.slot == 65000 && e.due == 65000 && e.attempt == 0, "giving up waits for the next slot");
        hp_queue_remove(&q, &e);
        hp_entry_ok(&q, &e, every, 65000 + 31000);
        CHECK(e.slot == 185000, "a poll served more than half an interval late skips one slot (%lld)",
              (long long)e.slot);
        hp_queue_free(&q);
}

/* Takes tokens as fast as a 10 ms tick allows for `secs`; returns the most
 * taken in any 60 s window (sliding, as the API counts) and the total. */
static long drive(hp_bucket_t *b, int64_t t0, int secs, long *total) {
        static int64_t times[200000];
        long n = 0, best = 0, j = 0;
        for (int64_t t = t0; t < t0 + secs * 1000LL; t += 10)
                while (n < 200000 && hp_bucket_take(b, t))
                        times[n++] = t;
        for (long i = 0; i < n; i++) {
                while (times[i] - times[j] >= 60000)
                        j++;
                if (i - j + 1 > best)
                        best = i - j + 1;
        }
        *total = n;
        return best;
}

static void test_bucket(void) {
        hp_bucket_t b;
        long total, best;
        hp_bucket_init(&b, 600, 0);
        best = drive(&b, 0, 180, &total);
        CHECK(best <= 600 && total >= 3 * 570, "600/min: at most 600 in any 60 s window (%ld), %ld in 3 min", best, total);
        hp_bucket_init(&b, 60, 0);
        best = drive(&b, 0, 300, &total);
        CHECK(best <= 60 && total >= 5 * 55, "60/min (the free plan): at most 60 in any window (%ld), %ld in 5 min", best, total);
        hp_bucket_init(&b, 50000, 0);
        best = drive(&b, 0, 120, &total);
        CHECK(best <= 50000 && total >= 2 * 49000, "50000/min: at most 50000 per window (%ld), %ld in 2 min", best, total);
        hp_bucket_init(&b, 600, 0);
        hp_bucket_share(&b, 3.0 / 8, 0);
        best = drive(&b, 0, 180, &total);
        CHECK(best <= 225 && total >= 3 * 210, "3 of 8 partitions: at most 225 per window (%ld)", best);
        hp_bucket_share(&b, 0, 200000);
        CHECK(!hp_bucket_take(&b, 300000), "no partitions, no requests");

        hp_bucket_init(&b, 600, 0);
        drive(&b, 0, 10, &total);
        hp_bucket_throttle(&b, 10000, 5000);
        int any = 0;
        for (int64_t t = 10000; t < 15000; t += 10)
                any |= hp_bucket_take(&b, t);
        CHECK(!any, "a 429 pauses every request until Retry-After");
        CHECK(b.factor == 0.5, "and halves the rate (%g)", b.factor);
        hp_bucket_throttle(&b, 10100, 5000);
        CHECK(b.factor == 0.5, "answers in flight for the same overload halve it once");
        drive(&b, 15000, 60, &total);
        CHECK(total < 580 && total >= 300, "the next minute runs slower than full speed while it recovers (%ld < 600)", total);
        drive(&b, 75000, 60, &total);
        CHECK(b.factor == 1, "and is back to full speed without further 429s (%g)", b.factor);
        hp_bucket_init(&b, 0, 0);
        drive(&b, 0, 1, &total);
        CHECK(total == 200000, "rate_limit 0: unlimited");
}

int main(void) {
        spate_arena_init(&arena);
        hp_onecall_bind(&oc, &pool, spate_shape_new(&pool, 1));
        test_real_files();
        test_bad_bodies();
        test_strip();
        test_url_redact();
        test_schedule();
        test_schedule_backlog();
        test_bucket();
        spate_arena_destroy(&arena);
        spate_shape_pool_destroy(&pool);
        return CHECK_DONE();
}
