/* Integer division by zero (idiv raises #DE): must die with SIGFPE (136). */
#include <stdio.h>

volatile int dividend = 7;
volatile int divisor = 0;

int main(void) {
    int q = dividend / divisor;
    fprintf(stderr, "fault_div0: division by zero did not fault (q=%d)\n", q);
    return 1;
}
