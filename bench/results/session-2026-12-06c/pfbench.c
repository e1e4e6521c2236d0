#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  int n=argc>1?atoi(argv[1]):256;
  char*p=mmap(0,n*4096L,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  double t0=now(); for(int i=0;i<n;i++) p[i*4096L]=1; double t1=now();
  printf("fresh anon fault: %.2f us/page\n",(t1-t0)/n);
  pid_t c=fork();
  if(c==0){ double a=now(); for(int i=0;i<n;i++) p[i*4096L]=2; double b=now(); printf("COW fault in child: %.2f us/page\n",(b-a)/n); _exit(0);}
  waitpid(c,0,0);
  double a=now(); for(int i=0;i<n;i++) p[i*4096L]=3; double b=now(); printf("parent write after child exit (reuse): %.2f us/page\n",(b-a)/n);
  c=fork(); if(c==0){ usleep(200000); _exit(0);} 
  a=now(); for(int i=0;i<n;i++) p[i*4096L]=4; b=now(); printf("COW fault in parent while child alive: %.2f us/page\n",(b-a)/n);
  waitpid(c,0,0);
  a=now(); for(int i=0;i<200;i++){ pid_t x=fork(); if(!x) _exit(0); waitpid(x,0,0);} b=now(); printf("fork+exit+wait: %.1f us\n",(b-a)/200);
  return 0;}
