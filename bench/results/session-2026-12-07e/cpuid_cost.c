// cpuid_cost.c: the cost of one CPUID (leaf 0x15) and one RDTSC here.
// cc -O2 -o cpuid_cost cpuid_cost.c && ./cpuid_cost
#include <cpuid.h>
#include <stdio.h>
#include <time.h>
int main(){ struct timespec a,b; unsigned x,y,z,w; int N=2000;
clock_gettime(CLOCK_MONOTONIC,&a); for(int i=0;i<N;i++) __cpuid_count(0x15,0,x,y,z,w); clock_gettime(CLOCK_MONOTONIC,&b);
printf("cpuid %.2f us\n", ((b.tv_sec-a.tv_sec)*1e9+(b.tv_nsec-a.tv_nsec))/N/1000);
unsigned long long t0=__builtin_ia32_rdtsc(); for(int i=0;i<N;i++) __builtin_ia32_rdtsc(); unsigned long long t1=__builtin_ia32_rdtsc();
clock_gettime(CLOCK_MONOTONIC,&a); for(int i=0;i<N;i++) __builtin_ia32_rdtsc(); clock_gettime(CLOCK_MONOTONIC,&b);
printf("rdtsc %.3f us\n", ((b.tv_sec-a.tv_sec)*1e9+(b.tv_nsec-a.tv_nsec))/N/1000);
}
