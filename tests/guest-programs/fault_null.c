/* Dereferences a null pointer: must die with SIGSEGV (status 139). The
 * pointer is read through a volatile object so GCC cannot prove it null and
 * replace the access with a trap (which would raise SIGILL instead). */
#include <stdio.h>

int* volatile null_ptr = NULL;

int main(void) {
    *null_ptr = 42;
    fprintf(stderr, "fault_null: store to NULL did not fault\n");
    return 1;
}
