/* test_fingerprint.c - the committer tag of offset metadata: written and read
 * back, found among node values, rejected when malformed. */
#include "check.h"
#include "../../engine/fingerprint.h"

int main(void) {
        spate_committer_t c = { 0xc0cba90d3a127fe6ULL, 1764627000000LL, 1764627005000LL, 0 }, r;
        char buf[256], md[512];

        spate_committer_format(&c, buf, sizeof(buf));
        CHECK_STR(buf, "@fp=c0cba90d3a127fe6/1764627000000/1764627005000;", "format");
        snprintf(md, sizeof(md), "spate:%swin=1764626999000/42;", buf);
        CHECK(!spate_committer_parse(md, strlen(md), &r) && r.fp == c.fp && r.start_ms == c.start_ms &&
              r.at_ms == c.at_ms && !r.left, "read back from metadata with node values");
        c.left = 1;
        spate_committer_format(&c, buf, sizeof(buf));
        CHECK(!spate_committer_parse(buf, strlen(buf), &r) && r.left, "a last commit says the instance left");
        CHECK(spate_committer_parse("spate:win=1/2;", 14, &r), "no tag: not found");
        CHECK(spate_committer_parse("spate:@fp=zz/1/2;", 17, &r), "malformed fingerprint rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/2", 16, &r), "unterminated tag rejected");
        CHECK(spate_committer_parse(NULL, 0, &r), "no metadata: not found");
        /* The engine subtracts the times from the clock: INT64_MIN would overflow. */
        CHECK(spate_committer_parse("spate:@fp=ab/1/-9223372036854775808;", 37, &r), "negative commit time rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/-1/2;", 18, &r), "negative start rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/ 1/2;", 18, &r), "a space before a time rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/99999999999999999999;", 36, &r), "an overflowing time rejected");
        CHECK(spate_committer_parse("spate:@fp=-1/1/2;", 17, &r), "a signed fingerprint rejected");
        return CHECK_DONE();
}
