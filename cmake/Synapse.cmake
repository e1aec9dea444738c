# Synapse.cmake -- a CTest fixture that runs one throwaway Synapse on 127.0.0.1 for a ctest run.
#
#   include(${CMAKE_SOURCE_DIR}/cmake/Synapse.cmake)
#
# Registers two tests (labels "integration;synapse"):
#   synapse_start  FIXTURES_SETUP   synapse  -> scripts/synapse/start.sh ${MXRTC_SYNAPSE_STATE_DIR}
#   synapse_stop   FIXTURES_CLEANUP synapse  -> scripts/synapse/stop.sh  ${MXRTC_SYNAPSE_STATE_DIR}
# CTest runs synapse_start before, and synapse_stop after, every selected test that requires the
# fixture (also with -R / -L filters), once per ctest run; the tests in between share the server,
# so each test must use its own user names / rooms (register.py logs in if the user exists).
#
# How a test uses it:
#   * mark it:   gtest_discover_tests(t PROPERTIES ${MXRTC_SYNAPSE_TEST_PROPERTIES})
#                or set_tests_properties(t PROPERTIES ${MXRTC_SYNAPSE_TEST_PROPERTIES})
#                (= FIXTURES_REQUIRED synapse LABELS integration; gtest_discover_tests already
#                 maps GTEST_SKIP to ctest "Skipped"; for set_tests_properties on a non-gtest test
#                 add SKIP_RETURN_CODE or SKIP_REGULAR_EXPRESSION yourself)
#   * find it:   mxrtc_use_synapse(<target>) adds the compile definition
#                MXRTC_SYNAPSE_ENV_FILE="${MXRTC_SYNAPSE_ENV_FILE}" (= <build>/synapse-state/env).
#                That file holds KEY=VALUE lines: MXRTC_SYNAPSE_URL, MXRTC_SYNAPSE_SERVER_NAME,
#                MXRTC_SYNAPSE_SHARED_SECRET, MXRTC_SYNAPSE_PID, MXRTC_SYNAPSE_PORT,
#                MXRTC_SYNAPSE_STATE_DIR, MXRTC_SYNAPSE_PYTHON (venv python),
#                MXRTC_SYNAPSE_REGISTER (register.py: `$PYTHON $REGISTER $STATE_DIR user pw [--admin]`
#                prints {"user_id","access_token","device_id","home_server"}).
#   * outside ctest: scripts/synapse/start.sh <build>/synapse-state, run the binary, stop.sh.
#
# When the Synapse venv is missing (scripts/setup-peers.sh not run, e.g. a machine without PyPI),
# synapse_start reports Skipped and removes any stale env file; tests should then GTEST_SKIP
# because the env file does not exist. Configure with -DMXRTC_REQUIRE_SYNAPSE=ON to make a
# missing venv a failure instead (CI on machines that have Synapse).
#
# Rate limiting: this server has every rc_* limit at 10000/s. A test that needs real limits either
#   * lowers one user's message limit with the admin API (register an --admin user first):
#     POST /_synapse/admin/v1/users/<user_id>/override_ratelimit
#          {"messages_per_second": 1, "burst_count": 1}   (integers; DELETE the same URL to undo), or
#   * starts its own Synapse in its own state dir with an extra config file, e.g.
#     MXRTC_SYNAPSE_EXTRA_CONFIG=low.yaml scripts/synapse/start.sh <dir>   where low.yaml has
#     rc_delayed_event_mgmt: {per_second: 0.1, burst_count: 2}
#     (top-level keys replace hs.yaml's; see scripts/synapse/README.md).
include_guard(GLOBAL)

option(MXRTC_REQUIRE_SYNAPSE "Fail (instead of skip) Synapse tests when the Synapse venv is missing" OFF)
set(MXRTC_SYNAPSE_VENV "${CMAKE_SOURCE_DIR}/.venv-synapse" CACHE PATH
    "Python venv with matrix-synapse (scripts/synapse/install.sh)")
set(MXRTC_SYNAPSE_SCRIPTS_DIR "${CMAKE_SOURCE_DIR}/scripts/synapse")
set(MXRTC_SYNAPSE_STATE_DIR "${CMAKE_BINARY_DIR}/synapse-state")
set(MXRTC_SYNAPSE_ENV_FILE "${MXRTC_SYNAPSE_STATE_DIR}/env")
# One label only: gtest_discover_tests (CMake 3.25) flattens a ';' list inside PROPERTIES.
set(MXRTC_SYNAPSE_TEST_PROPERTIES FIXTURES_REQUIRED synapse LABELS integration)

if(MXRTC_REQUIRE_SYNAPSE)
  set(_mxrtc_synapse_skip 0)
else()
  set(_mxrtc_synapse_skip 1)
endif()

add_test(NAME synapse_start
         COMMAND ${CMAKE_COMMAND} -E env
                 MXRTC_SYNAPSE_VENV=${MXRTC_SYNAPSE_VENV}
                 MXRTC_SYNAPSE_SKIP_IF_MISSING=${_mxrtc_synapse_skip}
                 bash ${MXRTC_SYNAPSE_SCRIPTS_DIR}/start.sh ${MXRTC_SYNAPSE_STATE_DIR})
# 240 s = template build on a cold cache (first run per Synapse version) + 180 s /health timeout.
set_tests_properties(synapse_start PROPERTIES
                     FIXTURES_SETUP synapse LABELS "integration;synapse" TIMEOUT 300
                     SKIP_RETURN_CODE 77)

add_test(NAME synapse_stop COMMAND bash ${MXRTC_SYNAPSE_SCRIPTS_DIR}/stop.sh ${MXRTC_SYNAPSE_STATE_DIR})
set_tests_properties(synapse_stop PROPERTIES
                     FIXTURES_CLEANUP synapse LABELS "integration;synapse" TIMEOUT 30)

# mxrtc_use_synapse(<target>): tell a test binary where the running Synapse's env file is.
function(mxrtc_use_synapse target)
  target_compile_definitions(${target} PRIVATE MXRTC_SYNAPSE_ENV_FILE="${MXRTC_SYNAPSE_ENV_FILE}")
endfunction()

if(NOT EXISTS "${MXRTC_SYNAPSE_VENV}/bin/python")
  message(STATUS "Synapse venv not found at ${MXRTC_SYNAPSE_VENV}: Synapse tests will be "
                 "skipped (run scripts/setup-peers.sh, or set -DMXRTC_SYNAPSE_VENV=...)")
endif()
