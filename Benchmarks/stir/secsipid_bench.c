// The anchor for `scripts/bench-stir`: libsecsipid (Debian libsecsipid-dev, the library behind Kamailio's secsipid
// module) signing SHAKEN Identity values and verifying them with the public key in memory (its cached-key path), on
// one thread, for a fixed time each. Prints one line per operation: "<name> <operations> <seconds>".
//
//   secsipid_bench PRIVATE_KEY_PEM PUBLIC_KEY_PEM SECONDS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libsecsipid.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char *slurp(const char *path, int *length) {
    FILE *file = fopen(path, "rb");
    if (!file) { perror(path); exit(2); }
    static char buffer[16384];
    size_t n = fread(buffer, 1, sizeof buffer - 1, file);
    fclose(file);
    buffer[n] = 0;
    *length = (int)n;
    return strdup(buffer);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s PRIVATE_KEY PUBLIC_KEY SECONDS\n", argv[0]); return 2; }
    int privateLength = 0, publicLength = 0;
    char *privateKey = slurp(argv[1], &privateLength);
    char *publicKey = slurp(argv[2], &publicLength);
    double seconds = atof(argv[3]);

    char *identity = NULL;
    long signs = 0;
    double start = now(), end = start;
    while ((end = now()) - start < seconds) {
        for (int i = 0; i < 100; i++) {
            char *out = NULL;
            if (SecSIPIDGetIdentityPrvKey("12155550121", "12155550131", "A", "123e4567-e89b-12d3-a456-426655440000",
                                          "https://certs.example.net/sp.crt", privateKey, &out) <= 0) {
                fprintf(stderr, "sign failed\n");
                return 1;
            }
            if (identity) free(identity);
            identity = out;
            signs++;
        }
    }
    printf("sign %ld %.3f\n", signs, end - start);

    long checks = 0;
    start = now();
    while ((end = now()) - start < seconds) {
        for (int i = 0; i < 100; i++) {
            // expire 3600: the token stays fresh for the run.
            if (SecSIPIDCheckFullPubKey(identity, (int)strlen(identity), 3600, publicKey, publicLength) != 0) {
                fprintf(stderr, "check failed\n");
                return 1;
            }
            checks++;
        }
    }
    printf("verify %ld %.3f\n", checks, end - start);
    return 0;
}
