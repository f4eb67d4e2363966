#!/usr/bin/env bash
# check_book.sh HTML_DIR: checks the built book the way a reader would find its faults.
# Fails (exit 1, one line per fault) on
#   - an internal link (href, src, data) to a file that is not there, or to an anchor that the
#     file does not define;
#   - a diagram wider than the content column (the width Doxygen writes on an iframe or object,
#     or the width of an SVG or PNG it shows in an img), against --forklab-content-width of the
#     book's stylesheet;
#   - a chapter or exercise page (chNN.html, exNN.html) without its previous and next links at
#     the top and at the bottom;
#   - a glossary term's page (term_*.html) that the search box cannot find;
#   - with SOURCE_DIR: a repository path a page names in code (`chapters/01_fork_server/spawn.cpp`)
#     that is not in the repository (a page left behind when a file moved).
# Exits 77 (ctest: skipped) when the book has not been built.
set -eu

html=${1:?usage: check_book.sh HTML_DIR [SOURCE_DIR]}
source_dir=${2:-}
[[ -z $source_dir ]] || source_dir=$(cd "$source_dir" && pwd)
if [[ ! -f $html/index.html ]]; then
    echo "check_book: no book in $html (build the docs target first): skipped"
    exit 77
fi
cd "$html"
content=$(sed -n 's/.*--forklab-content-width: *\([0-9]*\)px.*/\1/p' forklab.css | head -1)
[[ -n $content ]] || { echo "check_book: forklab.css defines no --forklab-content-width"; exit 1; }

faults=$(mktemp)
trap 'rm -f "$faults"' EXIT

# 1. Links. One awk pass: every id/name per file, then every reference checked against them.
awk -v faults="$faults" '
FNR == 1 { file = FILENAME; files[file] = 1 }
{
    line = $0
    while (match(line, /(id|name)="[^"]*"/)) {
        s = substr(line, RSTART, RLENGTH); sub(/^(id|name)="/, "", s); sub(/"$/, "", s)
        ids[file "#" s] = 1
        line = substr(line, RSTART + RLENGTH)
    }
    line = $0
    while (match(line, /(href|src|data)="[^"]*"/)) {
        s = substr(line, RSTART, RLENGTH); sub(/^(href|src|data)="/, "", s); sub(/"$/, "", s)
        line = substr(line, RSTART + RLENGTH)
        if (s ~ /^(https?|mailto|javascript|ftp|file):/ || s == "" || s ~ /^\$/) continue
        refs[++n] = file "\t" s "\t" FNR
    }
}
END {
    for (i = 1; i <= n; i++) {
        split(refs[i], r, "\t"); from = r[1]; target = r[2]
        path = target; anchor = ""
        h = index(target, "#")
        if (h > 0) { path = substr(target, 1, h - 1); anchor = substr(target, h + 1) }
        sub(/\?.*$/, "", path)
        if (path == "") path = from
        if (!(path in files)) {
            if ((getline dummy < path) < 0) {
                printf "%s:%s: link to a missing file: %s\n", from, r[3], target >> faults
                continue
            }
            close(path)
            if (anchor != "" && path ~ /\.html$/) {
                printf "%s:%s: link into a page the check did not read: %s\n", from, r[3], target >> faults
            }
            continue
        }
        if (anchor != "" && !((path "#" anchor) in ids)) {
            printf "%s:%s: link to a missing anchor: %s\n", from, r[3], target >> faults
        }
    }
}' *.html

# 2. Diagrams no wider than the content column.
svg_width() { # prints an SVG's width in CSS pixels (pt are 4/3 px)
    local w
    w=$(grep -o -m1 '<svg[^>]*' "$1" | grep -o 'width="[0-9.]*\(pt\|px\)\?"' | head -1 |
        sed 's/width="//; s/"//')
    case $w in
    *pt) awk -v v="${w%pt}" 'BEGIN { printf "%d\n", v * 4 / 3 + 0.5 }' ;;
    *px) echo "${w%px}" | cut -d. -f1 ;;
    "") echo 0 ;;
    *) echo "$w" | cut -d. -f1 ;;
    esac
}
png_width() { od -An -tu1 -j16 -N4 "$1" | awk '{ print ($1 * 16777216) + ($2 * 65536) + ($3 * 256) + $4 }'; }
for page in ./*.html; do
    while IFS= read -r tag; do
        width=$(grep -o 'width="[0-9]*' <<<"$tag" | head -1 | sed 's/width="//')
        what=$(grep -o '\(src\|data\)="[^"]*"' <<<"$tag" | head -1 | sed 's/^[a-z]*="//; s/"$//')
        if [[ -z $width && -f $what ]]; then
            case $what in
            *.svg) width=$(svg_width "$what") ;;
            *.png) width=$(png_width "$what") ;;
            esac
        fi
        if [[ -n $width ]] && ((width > content)); then
            echo "${page#./}: $what is ${width} px wide, the content column ${content} px" >>"$faults"
        fi
    done < <(grep -o '<\(iframe\|object\|img\)[^>]*\.\(svg\|png\)[^>]*>' "$page" | grep -v 'src="[a-z_]*\.png"\|search/' || true)
done

# 3. The reading path on every chapter and exercise page.
for page in ch[0-9][0-9].html ex[0-9][0-9].html; do
    [[ -f $page ]] || continue
    for where in top bottom; do
        nav=$(grep -o "<div class=\"pagenav pagenav-$where\">.*</div>" "$page" | head -1 || true)
        grep -q 'pagenav-prev"><a ' <<<"$nav" && grep -q 'pagenav-next"><a ' <<<"$nav" ||
            echo "$page: no previous and next links at the $where" >>"$faults"
    done
done

# 4. Every glossary term is in the search index (the search finds page titles).
for page in term_*.html; do
    [[ -f $page ]] || continue
    grep -q "'\.\./$page'" search/pages_*.js ||
        echo "$page: not in the search index (SEARCHENGINE off?)" >>"$faults"
done

# 5. Repository paths named on the pages exist.
if [[ -n $source_dir ]]; then
    for page in ./*.html; do
        grep -o '<code>\(common\|chapters\|exercises\|tests\|docs\)/[A-Za-z0-9_./-]*\.[a-z]*</code>' "$page" |
            sed 's|</\?code>||g' | sort -u | while read -r path; do
            # A pattern (tests/NN_name/points.txt) must match at least one path.
            pattern=${path//NN_name/[0-9][0-9]_*}
            pattern=${pattern//NN/[0-9][0-9]}
            compgen -G "$source_dir/$pattern" >/dev/null ||
                echo "${page#./}: names $path, which is not in the repository"
        done
    done >>"$faults"
fi

if [[ -s $faults ]]; then
    sort -u "$faults"
    echo "check_book: $(sort -u "$faults" | wc -l) faults in the book ($html)"
    exit 1
fi
echo "check_book: $(ls ./*.html | wc -l) pages, links, diagrams (<= ${content} px) and reading path OK"
