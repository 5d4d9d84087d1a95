/* iq_load.c - an HTTP load generator for bench/iq.sh: C concurrent clients
 * (libcurl multi, keep-alive connections), each sending GETs back to back for
 * a number of seconds to URLs taken in turn from a file, then the request
 * rate and the latency percentiles. A non-2xx answer counts as an error.
 *
 * usage: iq_load URLS_FILE CLIENTS SECONDS [BEARER_TOKEN]
 * prints: "<n> requests, <e> errors, <r> requests/s, p50 <x> ms, p99 <y> ms" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static size_t discard(char *p, size_t size, size_t n, void *opaque) {
        (void)p;
        (void)opaque;
        return size * n;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

typedef struct client {
        CURL *curl;
        double started;
} client_t;

static char **load_urls(const char *path, int *n) {
        FILE *f = fopen(path, "r");
        char line[4096], **urls = NULL;
        *n = 0;
        if (!f)
                return NULL;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (!*line)
                        continue;
                if (!(urls = realloc(urls, sizeof(*urls) * (size_t)(*n + 1))) || !(urls[*n] = strdup(line)))
                        abort();
                (*n)++;
        }
        fclose(f);
        return urls;
}

int main(int argc, char **argv) {
        int nurls, nclients, next = 0, running = 0;
        size_t nlat = 0, caplat = 1 << 16, errors = 0;
        double *lat, seconds, end;
        char **urls, auth[512];
        struct curl_slist *hdrs = NULL;
        client_t *cl;
        CURLM *multi;
        if (argc < 4 || !(urls = load_urls(argv[1], &nurls)) || !nurls) {
                fprintf(stderr, "usage: iq_load URLS_FILE CLIENTS SECONDS [BEARER_TOKEN]\n");
                return 2;
        }
        nclients = atoi(argv[2]);
        seconds = atof(argv[3]);
        if (argc > 4) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[4]);
                hdrs = curl_slist_append(hdrs, auth);
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        multi = curl_multi_init();
        cl = calloc((size_t)nclients, sizeof(*cl));
        lat = malloc(caplat * sizeof(*lat));
        if (!cl || !lat || !multi)
                return 1;
        end = now_ms() + seconds * 1000.0;
        for (int i = 0; i < nclients; i++) {
                cl[i].curl = curl_easy_init();
                curl_easy_setopt(cl[i].curl, CURLOPT_WRITEFUNCTION, discard);
                curl_easy_setopt(cl[i].curl, CURLOPT_HTTPHEADER, hdrs);
                curl_easy_setopt(cl[i].curl, CURLOPT_PRIVATE, &cl[i]);
                curl_easy_setopt(cl[i].curl, CURLOPT_TIMEOUT_MS, 30000L);
                curl_easy_setopt(cl[i].curl, CURLOPT_URL, urls[next++ % nurls]);
                cl[i].started = now_ms();
                curl_multi_add_handle(multi, cl[i].curl);
                running++;
        }
        while (running) {
                int still, msgs;
                CURLMsg *m;
                curl_multi_perform(multi, &still);
                while ((m = curl_multi_info_read(multi, &msgs))) {
                        client_t *c;
                        long status = 0;
                        if (m->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                        double t = now_ms();
                        if (m->data.result != CURLE_OK || status < 200 || status > 299)
                                errors++;
                        if (nlat == caplat && !(lat = realloc(lat, (caplat *= 2) * sizeof(*lat))))
                                return 1;
                        lat[nlat++] = t - c->started;
                        curl_multi_remove_handle(multi, c->curl);
                        if (t < end) {
                                curl_easy_setopt(c->curl, CURLOPT_URL, urls[next++ % nurls]);
                                c->started = now_ms();
                                curl_multi_add_handle(multi, c->curl);
                        } else {
                                running--;
                        }
                }
                curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
        qsort(lat, nlat, sizeof(*lat), cmp_double);
        printf("%zu requests, %zu errors, %.0f requests/s, p50 %.2f ms, p99 %.2f ms\n", nlat, errors,
               (double)nlat / seconds, nlat ? lat[nlat / 2] : 0, nlat ? lat[(size_t)((double)nlat * 0.99)] : 0);
        for (int i = 0; i < nclients; i++)
                curl_easy_cleanup(cl[i].curl);
        curl_multi_cleanup(multi);
        curl_slist_free_all(hdrs);
        for (int i = 0; i < nurls; i++)
                free(urls[i]);
        free(urls);
        free(cl);
        free(lat);
        return errors ? 1 : 0;
}
