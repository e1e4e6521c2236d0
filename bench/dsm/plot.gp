# bench/dsm/plot.gp: called by bench/dsm/run.sh with
#   datafile     rows "idx case p50_us p99_us ratio" (ratio NaN where none)
#   outfile      PNG to write
#   target_ratio remote-read target, p50 / (rtt_p50 + uffd_fault_p50)
#   rr_idx       idx of the remote-read row
#   rr_target_us target_ratio * (rtt_p50 + uffd_fault_p50) of remote-read
# Left: p50 bars with an error bar up to p99 (log scale), and the remote-read
# target as a marker. Right: the ratio per remote case against the target line.
set terminal pngcairo size 1400,600 font ",10"
set output outfile
set multiplot layout 1,2 title "spanvm DSM latencies (loopback)"

set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -35 nomirror
set key top left
set offsets 0, 0, graph 0.1, 0

set title "latency per operation: p50 bar, p99 whisker"
set ylabel "microseconds (log)"
set logscale y
set xrange [-0.7:*]
plot datafile using 1:3:xtic(2) with boxes lc rgb "#4a7ebb" title "p50", \
     "" using 1:3:3:4 with yerrorbars lc rgb "#202020" pt 0 title "p50..p99", \
     "+" using (rr_idx):(rr_target_us) every ::0::0 with points pt 9 ps 2.5 lc rgb "#d62728" \
         title sprintf("remote-read target (%.1f x (rtt + uffd))", target_ratio)

unset logscale y
set title sprintf("p50 / (rtt_p50 + uffd_fault_p50), target <= %.1f for remote-read", target_ratio) noenhanced
set ylabel "ratio"
set yrange [0:*]
plot datafile using 1:5:xtic(2) with boxes lc rgb "#59a14f" title "ratio", \
     target_ratio with lines lw 2 dt 2 lc rgb "#d62728" title sprintf("target %.1f", target_ratio)

unset multiplot
