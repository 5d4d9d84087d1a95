/* test_avro.c - the Avro serde on hostile and edge-case input: a string with
 * a NUL round-trips byte for byte, numbers that do not fit an Avro int/long
 * are errors, and a malformed body is rejected without leaking and without
 * allocating what it declares (avro-c's allocator is counted here). */
#include "check.h"
#include "../../serde/serde_avro.h"

#include <avro.h>
#include <stdlib.h>
#include <unistd.h>

static size_t live, biggest; /* bytes avro-c holds now; its largest single request */

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
        (void)ud;
        if (nsize > biggest)
                biggest = nsize;
        if (!nsize) {
                free(ptr);
                live -= osize;
                return NULL;
        }
        if (nsize > (64u << 20))
                return NULL; /* refuse: a malformed body must never get this far */
        void *p = realloc(ptr, nsize);
        if (p)
                live = live - osize + nsize;
        return p;
}

static const char *SCHEMA =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"n\",\"type\":\"long\"},{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"xs\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"null\"}]}]}";

static spate_avro_t *avro;
static spate_shape_pool_t pool;
static spate_shape_t *shape;

static void setup(void) {
        char path[256], err[512] = "";
        snprintf(path, sizeof(path), "/tmp/spate-test-avro-%d.avsc", (int)getpid());
        FILE *fp = fopen(path, "w");
        fputs(SCHEMA, fp);
        fclose(fp);
        avro = spate_avro_new(NULL, path, NULL, err, sizeof(err));
        unlink(path);
        CHECK(avro != NULL, "schema loads (%s)", err);
        shape = spate_shape_new(&pool, 0);
        spate_shape_add(&pool, shape, "s", NULL, SPATE_V_STR);
        spate_shape_add(&pool, shape, "n", NULL, SPATE_V_NUM);
        spate_shape_add(&pool, shape, "i", NULL, SPATE_V_NUM);
}

static int encode(const char *s, uint32_t slen, double n, double i, spate_buf_t *b, char *err, size_t size) {
        spate_value_t items[3] = { spate_value_str(s, slen), spate_value_num(n), spate_value_num(i) };
        spate_value_t v = { .type = SPATE_V_OBJ, .n = 3, .u.items = items };
        b->len = 0;
        return spate_avro_encode(avro, shape, &v, b, err, size);
}

/* C2: strndup stopped at the NUL and avro-c then read n+1 bytes of heap. */
static void test_nul_round_trip(void) {
        spate_buf_t b = { 0 };
        spate_arena_t a;
        spate_value_t out;
        char err[512] = "";
        spate_arena_init(&a);
        int rc = encode("a\0bcdefgh", 9, 7, 1, &b, err, sizeof(err));
        CHECK(rc == 0, "a string holding a NUL encodes (%s)", err);
        rc = rc ? rc : spate_avro_decode(avro, shape, b.data, b.len, &a, &out, err, sizeof(err));
        CHECK(rc == 0 && out.u.items[0].n == 9 && !memcmp(out.u.items[0].u.s, "a\0bcdefgh", 9),
              "... and decodes to the same 9 bytes (got %u)", rc ? 0 : out.u.items[0].n);
        CHECK(rc == 0 && out.u.items[1].u.num == 7, "... with the long after it intact");
        spate_buf_free(&b);
        spate_arena_destroy(&a);
}

/* C7: out-of-range double -> integer casts are undefined. */
static void test_out_of_range(void) {
        static const struct { double n, i; const char *want; } cases[] = {
                { 1e300, 0, "field 'n': 1e+300 does not fit Avro type long" },
                { NAN, 0, "field 'n': nan does not fit Avro type long" },
                { 0, 3e9, "field 'i': 3e+09 does not fit Avro type int" },
                { 0, -INFINITY, "field 'i': -inf does not fit Avro type int" },
        };
        spate_buf_t b = { 0 };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                char err[512] = "";
                int rc = encode("x", 1, cases[k].n, cases[k].i, &b, err, sizeof(err));
                CHECK(rc != 0 && strstr(err, cases[k].want), "%s (got '%s')", cases[k].want, err);
        }
        char err[512] = "";
        CHECK(encode("x", 1, -2147483648.0, 2147483647.0, &b, err, sizeof(err)) == 0,
              "the int range's ends encode (%s)", err);
        spate_buf_free(&b);
}

/* C5: each malformed body cost ~4 KB of leaked memory, and a declared 2 GB
 * string length 2 GB of address space. */
static void test_malformed(void) {
        static const struct { const char *name; unsigned char body[16]; size_t len; } cases[] = {
                { "3-byte body", { 0, 0, 0, 0, 0, 0x02, 'a', 0x02 }, 8 },
                { "2 GB string length", { 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f, 'a' }, 11 },
                { "negative string length", { 0, 0, 0, 0, 0, 0x01, 'a' }, 7 },
                { "10-byte varint overflow", { 0, 0, 0, 0, 0, 0x02, 'a', 0xff, 0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff }, 16 },
                { "a million nulls in 3 bytes", { 0, 0, 0, 0, 0, 0x02, 'a', 0x02, 0x02, 0x02, 0x80, 0x89, 0x7a, 0 }, 14 },
        };
        spate_arena_t a;
        spate_value_t out;
        spate_arena_init(&a);
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                char err[512] = "";
                unsigned char msg[16];
                memcpy(msg, cases[k].body, sizeof(msg));
                /* the local schema's id, so the body is read with it */
                spate_buf_t b = { 0 };
                if (encode("x", 1, 0, 0, &b, err, sizeof(err)))
                        break;
                memcpy(msg + 1, b.data + 1, 4);
                spate_buf_free(&b);
                size_t before = live;
                biggest = 0;
                int rc = spate_avro_decode(avro, shape, msg, cases[k].len, &a, &out, err, sizeof(err));
                CHECK(rc != 0 && strstr(err, "malformed Avro body"), "%s: rejected (%s)", cases[k].name, err);
                CHECK(live == before, "%s: avro-c holds no more memory after it (%zu bytes more)",
                      cases[k].name, live - before);
                CHECK(biggest < 4096, "%s: no allocation beyond the message (largest %zu bytes)",
                      cases[k].name, biggest);
        }
        spate_arena_destroy(&a);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        avro_set_allocator(counting_alloc, NULL);
        setup();
        if (avro) {
                test_nul_round_trip();
                test_out_of_range();
                test_malformed();
        }
        spate_avro_destroy(avro);
        spate_shape_pool_destroy(&pool);
        return CHECK_DONE();
}
