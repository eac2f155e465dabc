# Loaded by every bats file: assertions, and where the helpers are.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# test/run points HELPERS at the AddressSanitizer build for a second pass.
HELPERS=${HELPERS:-$REPO/build}
export HELPERS REPO
