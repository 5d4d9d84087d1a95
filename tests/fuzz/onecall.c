/* onecall.c - fuzzes what `http_poll` does with a response body
 * (connectors/http_poll/http_poll_body.c): the One Call check, and for a body that
 * passes, removing the members the node overrides, whose result must still
 * be a valid JSON object. */
#include "fuzz.h"
#include "../../connectors/http_poll/http_poll.h"
#include "../../serde/json_scan.h"

static spate_shape_pool_t pool;
static hp_onecall_t oc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const own[] = { "id", "name", "lat", "lon", "fetched_at" };
        char why[512];
        spate_arena_t a;
        spate_value_t v, check;
        if (!oc.shape) {
                spate_shape_t *s = spate_shape_new(&pool, 1);
                hp_onecall_bind(&oc, &pool, s);
                spate_shape_want_raw(s);
        }
        spate_arena_init(&a);
        for (int min = 0; min <= 2; min += 2) {
                if (hp_onecall_decode(&oc, (const char *)data, size, min, &a, &v, why, sizeof(why)))
                        continue;
                fuzz_touch(&v);
                spate_buf_t b = { 0 };
                hp_strip_members(&b, v.raw, v.raw_len, own, 5);
                if (spate_json_decode(oc.shape, b.data, b.len, &a, &check, why, sizeof(why)) ||
                    check.type != SPATE_V_OBJ) {
                        fprintf(stderr, "stripping members broke the body: %s: %.*s\n", why,
                                (int)b.len, b.data);
                        abort();
                }
                spate_buf_free(&b);
        }
        spate_arena_destroy(&a);
        return 0;
}
