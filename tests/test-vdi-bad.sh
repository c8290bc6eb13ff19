#!/bin/bash
# Every VDI in fixtures/bad-vdi/ through `hvconvert disk`, against the
# table in fixtures/bad-vdi/README (see tests/bad-images.sh).

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=bad-images.sh
source "$top_srcdir/tests/bad-images.sh"

check_bad_images vdi 34
echo "PASS: $test_name"
