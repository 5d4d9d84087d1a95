/* driver_instr.c - runs a topology over the first N records of a TSV file
 * (key<TAB>value lines, bench/gen_sensors.py) through the test driver
 * (tests/driver/driver.h) in one process: no Kafka, no threads, so under
 * callgrind the instructions a record are the same on a busy machine and a
 * calm one (bench/instr.sh). Records go to the topic's partitions by key, as
 * a producer's partitioner would; a commit follows every COMMIT_EVERY records.
 * usage: driver_instr TOPOLOGY TOPIC FILE N [COMMIT_EVERY]  (8000) */
#include "../tests/driver/driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int step(spate_driver_t *d, long *done) {
        int64_t n = spate_driver_process(d);
        if (n < 0 || spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL))
                return -1;
        *done += (long)n;
        return 0;
}

int main(int argc, char **argv) {
        char err[512], line[4096];
        long n, every, piped = 0, done = 0;
        if (argc < 5 || (n = atol(argv[4])) <= 0 || (every = argc > 5 ? atol(argv[5]) : 8000) <= 0) {
                fprintf(stderr, "usage: driver_instr TOPOLOGY TOPIC FILE N [COMMIT_EVERY]\n");
                return 2;
        }
        FILE *f = fopen(argv[3], "r");
        spate_driver_t *d = f ? spate_driver_open(argv[1], 1700000000000LL, err, sizeof(err)) : NULL;
        if (!d) {
                fprintf(stderr, "driver_instr: %s\n", f ? err : argv[3]);
                return 1;
        }
        while (piped < n && fgets(line, sizeof(line), f)) {
                char *tab = strchr(line, '\t');
                if (!tab)
                        continue;
                *tab = '\0';
                tab[1 + strcspn(tab + 1, "\n")] = '\0';
                spate_driver_pipe(d, argv[2], -1, line, tab + 1, 1700000000000LL + piped * 100);
                if (++piped % every == 0 && step(d, &done))
                        break;
        }
        fclose(f);
        int rc = step(d, &done);
        printf("driver_instr: %ld records piped, %ld processed (repartition records included), %llu dead letters\n",
               piped, done, (unsigned long long)spate_driver_ctx(d)->dlq);
        spate_driver_destroy(d);
        return rc ? 1 : 0;
}
