/* cpu_timer_lateness SECONDS: a 5 ms periodic POSIX timer on the calling
 * thread's CPU clock (SIGEV_THREAD_ID to itself) while the thread burns
 * SECONDS of its CPU time; prints the signals that came, against the
 * ~SECONDS/5ms expected, and their si_overrun (the periods each one stands
 * for). Run it natively and under `spanvm run`, alone and beside CPU hogs:
 * on a loaded host Linux's tick-sampled CPU timers fire late and merge the
 * missed periods into si_overrun, natively as under spanvm. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static atomic_int cnt, maxov, sumov;
static void h(int s, siginfo_t* si, void* u){ (void)s;(void)u; int o=si->si_overrun; if (o>atomic_load(&maxov)) atomic_store(&maxov,o); atomic_fetch_add(&sumov,o); atomic_fetch_add(&cnt,1);}
static double t(clockid_t c){struct timespec ts; clock_gettime(c,&ts); return ts.tv_sec+ts.tv_nsec/1e9;}
static volatile unsigned long sink;
int main(int argc, char** argv){
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  struct sigaction sa; memset(&sa,0,sizeof sa); sa.sa_sigaction=h; sa.sa_flags=SA_SIGINFO|SA_RESTART; sigaction(SIGUSR1,&sa,0);
  struct sigevent se; memset(&se,0,sizeof se);
  se.sigev_notify = SIGEV_THREAD_ID; se.sigev_signo=SIGUSR1; se._sigev_un._tid=gettid();
  timer_t tm; timer_create(CLOCK_THREAD_CPUTIME_ID,&se,&tm);
  struct itimerspec its={{0,5000000},{0,5000000}}; timer_settime(tm,0,&its,0);
  double p0=t(CLOCK_THREAD_CPUTIME_ID), w0=t(CLOCK_MONOTONIC);
  while (t(CLOCK_THREAD_CPUTIME_ID)-p0 < secs) for(int i=0;i<100000;++i) sink+=i*7u;
  printf("signals %d (expected ~%d) max overrun %d sum overrun %d wall %.1f\n", atomic_load(&cnt), (int)(secs/0.005), atomic_load(&maxov), atomic_load(&sumov), t(CLOCK_MONOTONIC)-w0);
  return 0; }
