/* test_offset_meta.c - the node values committed with a source offset: what
 * spate writes reads back exactly; metadata another program or version
 * wrote is refused or its malformed entries counted, never read as values;
 * an entry that does not fit is refused, not cut. */
#include "check.h"
#include "../../engine/offset_meta.h"

#include <stdint.h>

static char got[512];

static void collect(void *opaque, const char *node, int64_t time, int64_t cut) {
        (void)opaque;
        size_t n = strlen(got);
        snprintf(got + n, sizeof(got) - n, "%s:%lld:%lld|", node, (long long)time, (long long)cut);
}

static int parse(const char *md) {
        got[0] = '\0';
        return spate_offset_meta_parse(md, strlen(md), collect, NULL);
}

int main(void) {
        char buf[SPATE_OFFSET_META_MAX], big[4096];
        size_t off = (size_t)snprintf(buf, sizeof(buf), "spate:@fp=0123456789abcdef/1/2;");

        CHECK(!spate_offset_meta_add(buf, sizeof(buf), &off, "win", 1764626999000LL, 42) &&
              !spate_offset_meta_add(buf, sizeof(buf), &off, "late", -5, -1) &&
              !spate_offset_meta_add(buf, sizeof(buf), &off, "min", INT64_MIN, 7), "three entries fit");
        CHECK_STR(buf, "spate:@fp=0123456789abcdef/1/2;win=1764626999000/42;late=-5;min=-9223372036854775808/7;",
                  "written");
        CHECK(off == strlen(buf), "the offset is the length (%zu)", off);
        CHECK(parse(buf) == 0, "what spate writes parses with no malformed entry");
        CHECK_STR(got, "win:1764626999000:42|late:-5:-1|min:-9223372036854775808:7|",
                  "read back exactly, the committer tag skipped");

        /* Full: the entry that does not fit is refused whole, the rest kept. */
        char small[40] = "spate:a=1;";
        size_t soff = strlen(small);
        CHECK(spate_offset_meta_add(small, sizeof(small), &soff, "a_rather_long_window_name", 123456789, 5) == -1,
              "an entry that does not fit is refused");
        CHECK(soff == 10 && !strcmp(small, "spate:a=1;"), "and nothing of it is written: '%s'", small);
        soff = sizeof(small);
        CHECK(spate_offset_meta_add(small, sizeof(small), &soff, "a", 1, -1) == -1, "no room at all: refused");

        /* Not spate's, or longer than spate writes: -1, nothing read. */
        CHECK(parse("") == -1 && parse("spate:") == -1, "empty: not spate's");
        CHECK(parse("kafka-tool;win=5") == -1 && !got[0], "another program's metadata: -1, nothing read");
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        memcpy(big, "spate:win=1;", 12);
        CHECK(parse(big) == -1 && !got[0], "longer than spate writes: -1, nothing read");

        /* Malformed entries are counted and skipped, never read as values. */
        CHECK(parse("spate:win=abc;ok=7;") == 1, "a time that is not a number is malformed");
        CHECK_STR(got, "ok:7:-1|", "and only the good entry is read");
        CHECK(parse("spate:a=12x;b=;=5;c;d=1/;e=1/-2;f=1/2/3;g=99999999999999999999;h=1/x;i= 1;") == 10,
              "trailing junk, empty time, empty name, no '=', empty cut, negative cut, two cuts, "
              "overflow, cut not a number, leading space: 10 malformed");
        CHECK(!got[0], "none of them read: '%s'", got);
        CHECK(parse("spate:@fp=zz;@other=x;w=-1/0;") == 0, "tags ('@...') are not node entries");
        CHECK_STR(got, "w:-1:0|", "a negative time and a zero cut are fine");
        char nul[] = "spate:w=1\0/5;v=2;";
        got[0] = '\0';
        CHECK(spate_offset_meta_parse(nul, sizeof(nul) - 1, collect, NULL) == -1 && !got[0],
              "a NUL inside (spate never writes one): not spate's, nothing read");
        return CHECK_DONE();
}
