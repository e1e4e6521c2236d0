/* Exit status passthrough: exits with the code given as argv[1]. With
 * argv[2] == "thread", a second thread calls exit() while main is blocked in
 * pthread_join, so the whole thread group must end with that status. */
#include <pthread.h>

#include "gp_check.h"

static int code;

static void* exiter(void* p) {
    (void)p;
    exit(code);
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CODE [thread]\n", argv[0]);
        return 2;
    }
    char* end;
    long c = strtol(argv[1], &end, 10);
    if (*end || c < 0 || c > 255) {
        fprintf(stderr, "exit_code: bad code '%s'\n", argv[1]);
        return 2;
    }
    code = (int)c;
    if (argc == 3) {
        if (strcmp(argv[2], "thread") != 0) {
            fprintf(stderr, "exit_code: unknown mode '%s'\n", argv[2]);
            return 2;
        }
        pthread_t t;
        CHECK_PT(pthread_create(&t, NULL, exiter, NULL));
        pthread_join(t, NULL);
        fprintf(stderr, "exit_code: main thread outlived exit()\n");
        return 250;
    }
    return code;
}
