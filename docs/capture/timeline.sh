#!/usr/bin/env bash
# timeline.sh LOG > SVG: chapter 03's rolling restart drawn from a real run's log, one bar per
# worker from its spawn to its exit, the time axis in milliseconds from the HUP. Old workers
# (spawned before the HUP) are grey, their replacements green; a red tick marks a worker's exit.
# Chapters 03 and 05 log their restarts alike.
#   ... [27775 master] HUP: replacing 3 workers one by one (generation 1)
#   ... [27775 master] spawned worker 27786 (slot 3, generation 1)
#   ... [27775 master] worker 27777 left as asked (HUP) after 2 requests
#   ... [27775 master] every worker replaced (generation 1)
set -euo pipefail
awk '
function ms(clock,   p) { split(clock, p, ":"); return ((p[1] * 60 + p[2]) * 60 + p[3]) * 1000 }
done { next }
/spawned worker/ { t = ms($2); w = $7; order[++n] = w; start[w] = t; gen[w] = seen_hup ? 1 : 0 }
/HUP: replacing/ { hup = ms($2); seen_hup = 1 }
/ left / && seen_hup { w = $6; end[w] = ms($2); reqs[w] = $(NF - 1) }
/every worker replaced/ && seen_hup { last = ms($2); done = 1 }
END {
    if (!seen_hup || !done) { print "timeline: no complete HUP in the log" > "/dev/stderr"; exit 1 }
    span = last - hup; if (span < 10) span = 10
    lead = span * 0.25; from = hup - lead; to = last + lead
    left = 190; right = 830; top = 40; row = 26
    rows = 0
    for (i = 1; i <= n; i++) {
        w = order[i]
        if (gen[w] == 0 && !(w in end)) continue
        shown[++rows] = w
    }
    height = top + rows * row + 60
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"860\" height=\"%d\" viewBox=\"0 0 860 %d\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n", height, height
    printf "<rect width=\"860\" height=\"%d\" fill=\"white\"/>\n", height
    printf "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">Rolling restart (kill -HUP): %d ms from HUP to the last replacement</text>\n", last - hup
    scale = (right - left) / (to - from)
    x_hup = left + (hup - from) * scale; x_last = left + (last - from) * scale
    for (r = 1; r <= rows; r++) {
        w = shown[r]; y = top + (r - 1) * row
        s = (start[w] < from) ? from : start[w]
        e = (w in end) ? end[w] : to
        x1 = left + (s - from) * scale; x2 = left + (e - from) * scale
        if (x2 - x1 < 3) x2 = x1 + 3
        color = gen[w] == 0 ? "#9aa9b8" : "#4f9a5a"
        label = sprintf("worker %s (gen %d)", w, gen[w])
        printf "<text x=\"10\" y=\"%d\">%s</text>\n", y + 15, label
        printf "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\"/>\n", x1, y + 3, x2 - x1, color
        if (w in end) {
            printf "<rect x=\"%.1f\" y=\"%d\" width=\"3\" height=\"20\" fill=\"#c0392b\"/>\n", x2 - 1.5, y + 1
            printf "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#333\">%s req</text>\n", x2 + 5, y + 15, reqs[w]
        }
    }
    base = top + rows * row + 8
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", left, base, right, base
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\n", x_hup, top - 6, x_hup, base
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#4f9a5a\" stroke-dasharray=\"4 3\"/>\n", x_last, top - 6, x_last, base
    split("1 2 5 10 20 50 100 200 500 1000 2000 5000 10000", steps, " ")
    for (k = 1; k <= 13; k++) { step = steps[k] + 0; if ((to - from) / step <= 8) break }
    for (t = 0; hup + t <= to; t += step) { x = left + (hup + t - from) * scale; printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", x, base, x, base + 5, x, base + 19, t }
    for (t = -step; hup + t >= from; t -= step) { x = left + (hup + t - from) * scale; printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", x, base, x, base + 5, x, base + 19, t }
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time after the HUP (ms); red ticks: a worker exits, with the requests it served</text>\n", (left + right) / 2, base + 40
    print "</svg>"
}' "$1"
