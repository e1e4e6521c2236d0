#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
int main(int argc,char**argv){
  int n=argc>1?atoi(argv[1]):64;
  char*p=mmap(0,n*4096L,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  for(int i=0;i<n;i++) p[i*4096L]=1;
  for (int mode=0; mode<2; mode++) {
    double tot=0; int reps=20;
    for(int r=0;r<reps;r++){
      int fd[2]; pipe(fd);
      pid_t c=fork();
      if(c==0){ double a=now(); if(mode==1) madvise(p,n*4096L,MADV_POPULATE_WRITE); for(int i=0;i<n;i++) p[i*4096L]=2; double b=now(); write(fd[1],&a,0); double d=b-a; write(fd[1],&d,sizeof d); _exit(0);}
      double d; read(fd[0],&d,sizeof d); waitpid(c,0,0); close(fd[0]); close(fd[1]); tot+=d;
    }
    printf("%s: %.2f us per page (n=%d)\n", mode? "POPULATE_WRITE then touch":"touch (COW faults)", tot/reps/n, n);
  }
  return 0;}
