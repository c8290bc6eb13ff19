#!/bin/bash
# The long options in the man pages match what `hvconvert ... --help`
# prints, both ways.
#
#  - hvconvert.pod (SYNOPSIS and OPTIONS) and `hvconvert --help` name the
#    same options: these are the global options G.
#  - For disk, import, doctor, verify, run and each vhd command: the
#    options in the command's SYNOPSIS line(s) and in `hvconvert CMD
#    --help` are the same, leaving out G (a command's help may repeat
#    them or not).  A command may have no options of its own (vhd
#    compact), but not no SYNOPSIS line.
#  - `hvconvert vhd --help` names no option that the vhd page lacks.
#  - On each page, the options described under OPTIONS are exactly those
#    of its SYNOPSIS.
#
# Every difference is listed before the test fails.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

man=$top_srcdir/man
failed=0

# The long options (--foo) in stdin, one per line, sorted and unique.
long_opts () {
  { grep -oE '(^|[^A-Za-z0-9_-])--[a-z][a-z0-9-]*' || true; } |
    sed -E 's/^[^-]*//' | LC_ALL=C sort -u
}

# The text of section =head1 $2 of POD file $1.
pod_section () {
  awk -v want="$2" '
    /^=head1 / { on = (substr ($0, 8) == want); next }
    on { print }' "$1"
}

# The SYNOPSIS lines of POD file $1 that show command $2 ("disk",
# "vhd create"), with their continuation lines.  A synopsis line is
# " hvconvert [GLOBAL...] CMD ...": leading [bracketed] words are skipped.
synopsis_of () {
  pod_section "$1" SYNOPSIS | awk -v cmd="$2" '
    /^[ \t]+hvconvert([ \t]|$)/ {
      s = $0
      sub (/^[ \t]+hvconvert[ \t]*/, "", s)
      while (match (s, /^\[[^]]*\][ \t]*/))
        s = substr (s, RLENGTH + 1)
      on = (s == cmd || index (s, cmd " ") == 1)
      if (on) print
      next
    }
    /^[ \t]*$/ { on = 0; next }
    on && /^[ \t]/ { print }'
}

# The options of the =item lines under =head1 OPTIONS of POD file $1.
item_opts () {
  pod_section "$1" OPTIONS | { grep '^=item' || true; } | long_opts
}

# The long options printed by `hvconvert ARGS... --help` (which must
# succeed).
help_opts () {
  local out=$tmp/help.out rc=0
  "$HVCONVERT" "$@" --help >"$out" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    echo "FAIL: hvconvert $* --help exited with status $rc:" >&2
    cat "$out" >&2
    failed=1
  fi
  long_opts <"$out"
}

# Sets A and B (files of sorted lines) must be equal; report both
# differences.
compare () {
  local what=$1 a_name=$2 a=$3 b_name=$4 b=$5 only
  only=$(LC_ALL=C comm -23 "$a" "$b" | paste -sd ' ' -)
  if [ -n "$only" ]; then
    echo "FAIL: $what: in $a_name but not in $b_name: $only" >&2
    failed=1
  fi
  only=$(LC_ALL=C comm -13 "$a" "$b" | paste -sd ' ' -)
  if [ -n "$only" ]; then
    echo "FAIL: $what: in $b_name but not in $a_name: $only" >&2
    failed=1
  fi
}

# Lines of file $1 that are not in the global options.
without_globals () {
  LC_ALL=C comm -23 "$1" "$tmp/globals"
}

# Global options.
{ pod_section "$man/hvconvert.pod" SYNOPSIS; item_opts "$man/hvconvert.pod"; } |
  long_opts >"$tmp/globals"
help_opts >"$tmp/help-globals"
compare "global options" hvconvert.pod "$tmp/globals" \
  "hvconvert --help" "$tmp/help-globals"

# Each command against its --help, then each page's OPTIONS against its
# SYNOPSIS.
check_page () {
  local page=$1 cmds=$2 cmd id
  : >"$tmp/syn-$page"
  while read -r cmd; do
    id=${cmd// /-}
    synopsis_of "$man/$page" "$cmd" >"$tmp/syn-lines-$id"
    long_opts <"$tmp/syn-lines-$id" >"$tmp/syn-all-$id"
    if ! grep -q . "$tmp/syn-lines-$id"; then
      echo "FAIL: $page: no SYNOPSIS line for 'hvconvert $cmd'" >&2
      failed=1
    fi
    without_globals "$tmp/syn-all-$id" >"$tmp/syn-$id"
    cat "$tmp/syn-$id" >>"$tmp/syn-$page"
    # shellcheck disable=SC2086 # split "vhd create" into two words
    help_opts $cmd >"$tmp/help-all-$id"
    without_globals "$tmp/help-all-$id" >"$tmp/help-$id"
    compare "hvconvert $cmd" "$page SYNOPSIS" "$tmp/syn-$id" \
      "hvconvert $cmd --help" "$tmp/help-$id"
  done <<<"$cmds"
  LC_ALL=C sort -u "$tmp/syn-$page" -o "$tmp/syn-$page"
  item_opts "$man/$page" >"$tmp/items-all"
  without_globals "$tmp/items-all" >"$tmp/items"
  compare "$page" "its SYNOPSIS" "$tmp/syn-$page" "its OPTIONS" "$tmp/items"
}

check_page hvconvert-disk.pod "disk"
check_page hvconvert-import.pod "import"
check_page hvconvert-vhd.pod "vhd create
vhd info
vhd check
vhd compact
vhd convert
vhd expand
vhd merge
vhd diff
vhd compare"
check_page hvconvert-doctor.pod "doctor"
check_page hvconvert-verify.pod "verify"
check_page hvconvert-run.pod "run"
check_page hvconvert-inject.pod "inject"

# `hvconvert vhd --help` may summarise the subcommands; it must not name
# an option the vhd page lacks.
help_opts vhd >"$tmp/help-all-vhd"
only=$(without_globals "$tmp/help-all-vhd" |
         LC_ALL=C comm -23 - "$tmp/syn-hvconvert-vhd.pod" | paste -sd ' ' -)
if [ -n "$only" ]; then
  echo "FAIL: hvconvert vhd --help names options not in hvconvert-vhd.pod: $only" >&2
  failed=1
fi

if [ "$failed" = 0 ]; then
  echo "PASS: the man pages and --help name the same options"
fi
exit "$failed"
