/* fork_loop N [v]: N rounds of fork (or vfork with a second argument) + _exit + waitpid; prints microseconds per round. Run natively and under `spanvm run --platform native --`. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  int n=atoi(argv[1]); int v=argc>2;
  double t0=now();
  for(int i=0;i<n;i++){pid_t c=v?vfork():fork(); if(!c) _exit(0); waitpid(c,0,0);}
  printf("%s+_exit+wait %.1f us\n", v?"vfork":"fork", (now()-t0)/n);
}
