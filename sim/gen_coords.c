/* gen_coords.c - `spate gen-coords`: writes a CSV grid of exactly N coordinates inside bboxes.
 *
 * N is split between the boxes in proportion to their area (largest remainder, so the parts
 * add up to N exactly).  Each box gets a grid whose column/row ratio follows the box's shape in
 * kilometres; points sit at cell centres, filled row by row (south to north, west to east) and
 * the last row stops early, so the count is exact and every point is strictly inside.
 * With --places, a point is named after the nearest place of a list ("Lyon 12 km NE"), so
 * that a person reading `spate tail` recognises where it is. */
#include "../cli/commands.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BBOX 64
#define MAX_PLACES 4096

struct place {
        char   name[64];
        double lat, lon;
};

/* The places of --places: a CSV whose header has name, lat and lon columns. */
static struct place places[MAX_PLACES];
static int nplaces;

struct bbox {
        double min_lat, min_lon, max_lat, max_lon;
        long   count;
};

static double bbox_area(const struct bbox *b) {
        double mid = (b->min_lat + b->max_lat) / 2.0 * M_PI / 180.0;
        return (b->max_lat - b->min_lat) * (b->max_lon - b->min_lon) * cos(mid);
}

static int bbox_parse(const char *v, struct bbox *b, char *errstr, size_t errstr_size) {
        char tail;
        if (sscanf(v, "%lf,%lf,%lf,%lf%c", &b->min_lat, &b->min_lon, &b->max_lat, &b->max_lon,
                   &tail) != 4) {
                snprintf(errstr, errstr_size, "--bbox '%s': want MINLAT,MINLON,MAXLAT,MAXLON", v);
                return -1;
        }
        if (!(b->min_lat >= -90 && b->max_lat <= 90 && b->min_lat < b->max_lat &&
              b->min_lon >= -180 && b->max_lon <= 180 && b->min_lon < b->max_lon)) {
                snprintf(errstr, errstr_size, "--bbox '%s': need -90 <= MINLAT < MAXLAT <= 90 and "
                         "-180 <= MINLON < MAXLON <= 180", v);
                return -1;
        }
        return 0;
}

/* Largest-remainder apportionment of total over the boxes by area. */
static void split_count(struct bbox *boxes, int n, long total) {
        double area = 0, rem[MAX_BBOX];
        long given = 0;

        for (int i = 0; i < n; i++)
                area += bbox_area(&boxes[i]);
        for (int i = 0; i < n; i++) {
                double share = (double)total * bbox_area(&boxes[i]) / area;
                boxes[i].count = (long)floor(share);
                rem[i] = share - (double)boxes[i].count;
                given += boxes[i].count;
        }
        for (; given < total; given++) {
                int best = 0;
                for (int i = 1; i < n; i++)
                        if (rem[i] > rem[best])
                                best = i;
                boxes[best].count++;
                rem[best] = -1;
        }
}

/* Column index of want in the header line, or -1. */
static int header_col(char *hdr, const char *want) {
        int i = 0;
        for (char *f = strtok(hdr, ",\r\n"); f; f = strtok(NULL, ",\r\n"), i++)
                if (!strcmp(f, want))
                        return i;
        return -1;
}

/* Loads --places. Plain CSV without quoting: a place name has no comma. */
static int places_load(const char *file, char *errstr, size_t errstr_size) {
        char line[512], hdr[512];
        int col[3], lineno = 1;
        static const char *const want[3] = { "name", "lat", "lon" };
        FILE *f = fopen(file, "r");

        if (!f) {
                snprintf(errstr, errstr_size, "--places %s: %s", file, strerror(errno));
                return -1;
        }
        if (!fgets(line, sizeof(line), f))
                line[0] = 0;
        for (int k = 0; k < 3; k++) {
                memcpy(hdr, line, sizeof(hdr));
                if ((col[k] = header_col(hdr, want[k])) < 0) {
                        snprintf(errstr, errstr_size, "--places %s:1: the header has no '%s' column "
                                 "(want name,lat,lon)", file, want[k]);
                        fclose(f);
                        return -1;
                }
        }
        while (fgets(line, sizeof(line), f)) {
                char *fld[16];
                int n = 0;
                lineno++;
                for (char *p = strtok(line, ",\r\n"); p && n < 16; p = strtok(NULL, ",\r\n"))
                        fld[n++] = p;
                struct place *pl = &places[nplaces];
                char *e1 = NULL, *e2 = NULL;
                if (n > col[0] && n > col[1] && n > col[2] && nplaces < MAX_PLACES) {
                        pl->lat = strtod(fld[col[1]], &e1);
                        pl->lon = strtod(fld[col[2]], &e2);
                        snprintf(pl->name, sizeof(pl->name), "%s", fld[col[0]]);
                }
                if (!e1 || *e1 || !e2 || *e2 || strchr(pl->name, '"')) {
                        snprintf(errstr, errstr_size, "--places %s:%d: want name,lat,lon with numbers "
                                 "(no quoting, at most %d places)", file, lineno, MAX_PLACES);
                        fclose(f);
                        return -1;
                }
                nplaces++;
        }
        fclose(f);
        if (!nplaces) {
                snprintf(errstr, errstr_size, "--places %s: no places", file);
                return -1;
        }
        return 0;
}

/* "Lyon" within 3 km of the nearest place, else "Lyon 12 km NE" (distance and
 * compass direction from the place, on a local flat approximation). */
static void place_name(double lat, double lon, char *out, size_t size) {
        static const char *const dirs[8] = { "N", "NE", "E", "SE", "S", "SW", "W", "NW" };
        double best = INFINITY, dn = 0, de = 0;
        const struct place *near = NULL;
        for (int i = 0; i < nplaces; i++) {
                double n = (lat - places[i].lat) * 111.2;
                double e = (lon - places[i].lon) * 111.2 * cos(lat * M_PI / 180.0);
                if (n * n + e * e < best) {
                        best = n * n + e * e;
                        near = &places[i], dn = n, de = e;
                }
        }
        double km = sqrt(best);
        if (km < 3)
                snprintf(out, size, "%s", near->name);
        else
                snprintf(out, size, "%s %.0f km %s", near->name, km,
                         dirs[(int)lround(atan2(de, dn) / (M_PI / 4) + 8) % 8]);
}

static double clampd(double v, double lo, double hi) {
        return v < lo ? lo : v > hi ? hi : v;
}

static int write_box(FILE *out, const struct bbox *b, int box_no, const char *prefix, long *id) {
        double h_deg = b->max_lat - b->min_lat;
        double w_deg = (b->max_lon - b->min_lon) * cos((b->min_lat + b->max_lat) / 2.0 * M_PI / 180.0);
        long cols, rows;

        if (b->count <= 0)
                return 0;
        cols = lround(sqrt((double)b->count * w_deg / h_deg));
        cols = cols < 1 ? 1 : cols > b->count ? b->count : cols;
        rows = (b->count + cols - 1) / cols;
        for (long i = 0; i < b->count; i++) {
                long r = i / cols, c = i % cols;
                double lat = b->min_lat + (r + 0.5) * (b->max_lat - b->min_lat) / (double)rows;
                double lon = b->min_lon + (c + 0.5) * (b->max_lon - b->min_lon) / (double)cols;
                /* Rounding to 4 decimals must not step outside a box with finer edges. */
                lat = clampd(round(lat * 1e4) / 1e4, b->min_lat, b->max_lat);
                lon = clampd(round(lon * 1e4) / 1e4, b->min_lon, b->max_lon);
                char name[96];
                if (nplaces)
                        place_name(lat, lon, name, sizeof(name));
                else
                        snprintf(name, sizeof(name), "grid%d_r%ld_c%ld", box_no, r + 1, c + 1);
                if (fprintf(out, "%s%06ld,%s,%.4f,%.4f\n", prefix, ++*id, name, lat, lon) < 0)
                        return -1;
        }
        return 0;
}

static void usage(FILE *fp) {
        fprintf(fp,
"usage: spate gen-coords --bbox MINLAT,MINLON,MAXLAT,MAXLON [--bbox ...] --count N\n"
"                        [--out FILE] [--prefix P] [--places CSV]\n"
"Writes a CSV 'id,name,lat,lon' of exactly N grid points (4 decimals) inside the boxes,\n"
"split between boxes by area.  Ids are P000001... (default prefix 'c'); default output stdout.\n"
"With --places (a CSV with name,lat,lon columns, e.g. topology/places/fr_nl_cities.csv) a\n"
"point's name is its nearest place: 'Lyon', or 'Lyon 12 km NE' beyond 3 km; else grid1_r2_c3.\n"
"Example (France + Netherlands):\n"
"  spate gen-coords --bbox 41.3,-5.2,51.1,9.6 --bbox 50.7,3.3,53.6,7.3 --count 20000\n");
}

struct gen_opts {
        struct bbox boxes[MAX_BBOX];
        int         nboxes;
        long        count;
        const char *out, *prefix;
};

/* Returns 0, 1 for --help, -1 on a bad command line (after printing why). */
static int parse_opts(int argc, char **argv, struct gen_opts *o) {
        static const struct option longopts[] = {
                { "bbox", 1, 0, 'b' }, { "count", 1, 0, 'n' }, { "out", 1, 0, 'o' },
                { "prefix", 1, 0, 'p' }, { "places", 1, 0, 'P' }, { "help", 0, 0, 'h' },
                { 0, 0, 0, 0 }
        };
        char errstr[256], *end;
        int c;

        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        if (o->nboxes == MAX_BBOX) {
                                fprintf(stderr, "spate gen-coords: at most %d --bbox\n", MAX_BBOX);
                                return -1;
                        }
                        if (bbox_parse(optarg, &o->boxes[o->nboxes++], errstr, sizeof(errstr))) {
                                fprintf(stderr, "spate gen-coords: %s\n", errstr);
                                return -1;
                        }
                        break;
                case 'n':
                        errno = 0;
                        o->count = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || o->count < 1) {
                                fprintf(stderr, "spate gen-coords: --count wants a positive integer\n");
                                return -1;
                        }
                        break;
                case 'o': o->out = optarg; break;
                case 'p': o->prefix = optarg; break;
                case 'P':
                        if (places_load(optarg, errstr, sizeof(errstr))) {
                                fprintf(stderr, "spate gen-coords: %s\n", errstr);
                                return -1;
                        }
                        break;
                case 'h': usage(stdout); return 1;
                default: usage(stderr); return -1;
                }
        }
        if (!o->nboxes || !o->count || optind < argc) {
                usage(stderr);
                return -1;
        }
        return 0;
}

int spate_cmd_gen_coords(int argc, char **argv) {
        static struct gen_opts o;
        FILE *out;
        long id = 0;
        int rc, err = 0;

        o = (struct gen_opts){ .prefix = "c" };
        nplaces = 0;
        if ((rc = parse_opts(argc, argv, &o)))
                return rc > 0 ? 0 : 2;
        split_count(o.boxes, o.nboxes, o.count);
        out = o.out ? fopen(o.out, "w") : stdout;
        if (!out) {
                fprintf(stderr, "spate gen-coords: %s: %s\n", o.out, strerror(errno));
                return 1;
        }
        err = fprintf(out, "id,name,lat,lon\n") < 0;
        for (int i = 0; i < o.nboxes && !err; i++)
                err = write_box(out, &o.boxes[i], i + 1, o.prefix, &id);
        if (o.out ? fclose(out) : fflush(out))
                err = 1;
        if (err) {
                fprintf(stderr, "spate gen-coords: write failed: %s\n", strerror(errno));
                return 1;
        }
        return 0;
}
