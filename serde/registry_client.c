/* registry_client.c - Confluent Schema Registry look-ups over HTTP (libcurl),
 * parsed with jansson: these run once per schema, not per record. */
#include "registry_client.h"
#include "../util/buf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t collect(char *p, size_t size, size_t n, void *ud) {
        spate_buf_put(ud, p, size * n);
        return size * n;
}

static json_t *call(const char *url, const char *post, char *errstr, size_t errstr_size) {
        CURL *c = curl_easy_init();
        spate_buf_t body = { 0 };
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
        long status = 0;
        json_t *j = NULL;
        json_error_t jerr;

        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        if (post)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        CURLcode rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK)
                snprintf(errstr, errstr_size, "schema registry %s: %s", url, curl_easy_strerror(rc));
        else if (status != 200)
                snprintf(errstr, errstr_size, "schema registry %s: HTTP %ld", url, status);
        else if (!(j = json_loadb(body.data, body.len, 0, &jerr)))
                snprintf(errstr, errstr_size, "schema registry %s: bad JSON: %s", url, jerr.text);
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        spate_buf_free(&body);
        return j;
}

char *spate_registry_get(const char *url, int32_t id, char *errstr, size_t errstr_size) {
        char full[1024];
        json_t *j;
        char *schema = NULL;
        snprintf(full, sizeof(full), "%s/schemas/ids/%d", url, id);
        if (!(j = call(full, NULL, errstr, errstr_size)))
                return NULL;
        const char *s = json_string_value(json_object_get(j, "schema"));
        if (s)
                schema = strdup(s);
        else
                snprintf(errstr, errstr_size, "schema registry %s: no 'schema' in the answer", full);
        json_decref(j);
        return schema;
}

int32_t spate_registry_register(const char *url, const char *subject, const char *schema,
                                char *errstr, size_t errstr_size) {
        char full[1024];
        json_t *req = json_pack("{s:s}", "schema", schema);
        char *post = json_dumps(req, JSON_COMPACT);
        json_t *j;
        int32_t id = -1;
        snprintf(full, sizeof(full), "%s/subjects/%s/versions", url, subject);
        j = call(full, post, errstr, errstr_size);
        if (j && json_is_integer(json_object_get(j, "id")))
                id = (int32_t)json_integer_value(json_object_get(j, "id"));
        else if (j)
                snprintf(errstr, errstr_size, "schema registry %s: no 'id' in the answer", full);
        json_decref(j);
        json_decref(req);
        free(post);
        return id;
}
