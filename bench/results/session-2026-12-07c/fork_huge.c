/* fork_huge MB HUGE: fork+_exit+waitpid of a process with MB MiB of touched, read-only anonymous memory, on 4 KiB pages (HUGE 0) or transparent huge pages (HUGE 1): the cost of copying page-table entries at fork on this host. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  size_t mb=atoi(argv[1]); int huge=atoi(argv[2]); int n=200;
  size_t len=mb<<20;
  char*p=mmap(0,len+(2<<20),PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  p=(char*)(((unsigned long)p+(2<<20)-1)&~((2UL<<20)-1));
  madvise(p,len,huge?MADV_HUGEPAGE:MADV_NOHUGEPAGE);
  memset(p,1,len);
  mprotect(p,len,PROT_READ|PROT_EXEC);
  double t0=now();
  for(int i=0;i<n;i++){pid_t c=fork(); if(!c) _exit(0); waitpid(c,0,0);}
  double t1=now();
  FILE*f=fopen("/proc/self/smaps_rollup","r"); char l[256]; while(fgets(l,256,f)) if(strstr(l,"AnonHuge")) fputs(l,stdout);
  printf("%zu MB huge=%d: fork+exit+wait %.1f us\n",mb,huge,(t1-t0)/n);
}
