/* agg_codec.c - fuzzes the aggregate state codec (operators/window/agg_codec.c), the
 * bytes of changelog records and stored windows: decode, then check that the
 * states encode, decode back to the same bytes, merge and give results. */
#include "fuzz.h"
#include "../../operators/window/agg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256], *enc = NULL, *enc2 = NULL;
        size_t elen, elen2;
        spate_agg_state_t *s, *s2 = NULL;
        int n, n2;
        if (spate_agg_state_decode(data, size, &s, &n, err, sizeof(err)))
                return 0;
        for (int i = 0; i < n; i++) {
                spate_val_t v;
                spate_agg_result(&s[i], &v);
                for (size_t k = 0; v.type == SPATE_VAL_STR && k < v.len; k++)
                        err[0] = v.str[k];
        }
        if (spate_agg_state_encode(s, n, &enc, &elen, err, sizeof(err)) ||
            spate_agg_state_decode(enc, elen, &s2, &n2, err, sizeof(err)) || n2 != n ||
            spate_agg_state_encode(s2, n2, &enc2, &elen2, err, sizeof(err)) ||
            elen != elen2 || memcmp(enc, enc2, elen)) {
                fprintf(stderr, "agg codec: decoded states do not re-encode stably: %s\n", err);
                abort();
        }
        if (spate_agg_states_merge(s2, s, n) == 0)
                for (int i = 0; i < n; i++) {
                        spate_val_t v;
                        spate_agg_result(&s2[i], &v);
                }
        spate_agg_states_free(s, n);
        spate_agg_states_free(s2, n2);
        free(enc);
        free(enc2);
        return 0;
}
