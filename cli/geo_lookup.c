/* geo_lookup.c - `spate geo-lookup`: runs lat,lon lines from stdin through a geo region index. */
#include "commands.h"
#include "../util/log.h"
#include "../geo/geo_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp) {
        fprintf(fp, "usage: spate geo-lookup --regions FILE.geojson --name PROP "
                    "[--mode polygon|bbox_first_match] < points.csv > out.csv\n"
                    "  reads 'lat,lon' lines (a non-numeric first line is a header), writes\n"
                    "  'lat,lon,region_index,region_name' (index -1 and an empty name when no\n"
                    "  region matches). For tests and ad-hoc checks of region files.\n");
}

/* Writes s as one CSV field, quoted only when it must be. */
static void put_csv_field(const char *s, FILE *fp) {
        if (!strpbrk(s, ",\"\r\n")) {
                fputs(s, fp);
                return;
        }
        fputc('"', fp);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', fp);
                fputc(*s, fp);
        }
        fputc('"', fp);
}

/* Parses "lat,lon[,...]"; returns 0 and the length of the "lat,lon" text. */
static int parse_point(const char *line, double *lat, double *lon, size_t *len) {
        const char *p;
        char *end;

        errno = 0;
        *lat = strtod(line, &end);
        if (end == line || *end != ',')
                return -1;
        p = end + 1;
        *lon = strtod(p, &end);
        if (end == p || (*end && *end != ',') || errno)
                return -1;
        *len = (size_t)(end - line);
        return 0;
}

static int run(const spate_geo_index_t *idx, FILE *in, FILE *out) {
        char *line = NULL;
        size_t cap = 0, lineno = 0;
        ssize_t n;
        int rc = 0;

        while ((n = getline(&line, &cap, in)) > 0) {
                double lat, lon;
                size_t len;
                int region;
                lineno++;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (n == 0)
                        continue;
                if (parse_point(line, &lat, &lon, &len)) {
                        if (lineno == 1)
                                continue;       /* header */
                        fprintf(stderr, "spate geo-lookup: line %zu: want 'lat,lon', got '%s'\n",
                                lineno, line);
                        rc = 1;
                        break;
                }
                region = spate_geo_index_lookup(idx, lat, lon);
                fprintf(out, "%.*s,%d,", (int)len, line, region);
                put_csv_field(region >= 0 ? spate_geo_index_name(idx, region) : "", out);
                fputc('\n', out);
        }
        free(line);
        return rc;
}

int spate_cmd_geo_lookup(int argc, char **argv) {
        const char *regions = NULL, *name = NULL, *mode_s = "polygon";
        spate_geo_mode_t mode;
        spate_geo_index_t *idx;
        char err[512];
        int rc;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        usage(stdout);
                        return 0;
                } else if (i + 1 < argc && !strcmp(argv[i], "--regions")) {
                        regions = argv[++i];
                } else if (i + 1 < argc && !strcmp(argv[i], "--name")) {
                        name = argv[++i];
                } else if (i + 1 < argc && !strcmp(argv[i], "--mode")) {
                        mode_s = argv[++i];
                } else {
                        fprintf(stderr, "spate geo-lookup: unexpected argument '%s'\n", argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (!regions || !name) {
                usage(stderr);
                return 2;
        }
        if (spate_geo_mode_parse(mode_s, &mode, err, sizeof(err))) {
                fprintf(stderr, "spate geo-lookup: %s\n", err);
                return 2;
        }
        if (!(idx = spate_geo_index_load(regions, name, mode, err, sizeof(err)))) {
                fprintf(stderr, "spate geo-lookup: %s\n", err);
                return 1;
        }
        rc = run(idx, stdin, stdout);
        spate_geo_index_destroy(idx);
        if (fflush(stdout)) {
                fprintf(stderr, "spate geo-lookup: writing output: %s\n", strerror(errno));
                rc = 1;
        }
        return rc;
}
