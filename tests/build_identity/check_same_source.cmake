# cmake -DSOURCE_DIR=.. -DBUILD_HEADER=.. -DWORK=.. -DGENERATOR=.. -P check_same_source.cmake
#
# Copies the sources (vmm, net, guest-shim, cmake) to WORK/src, configures
# the tiny twin project (only the source id target) in WORK/build and builds
# it, then checks:
#   1. the twin's source id equals this build's (same source, other
#      directory, other configure, other time);
#   2. building the twin again without a change leaves the header alone
#      (same modification time: nothing that includes it recompiles);
#   3. after one source file changes the twin's id differs.
foreach(v SOURCE_DIR BUILD_HEADER WORK GENERATOR)
  if(NOT ${v})
    message(FATAL_ERROR "check_same_source: -D${v}=... missing")
  endif()
endforeach()
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
function(source_id header out_var)
  file(STRINGS "${header}" line REGEX "#define SPANVM_SOURCE_ID ")
  string(REGEX MATCH "\"([0-9a-f]+)\"" _ "${line}")
  if(NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "no source id in ${header}")
  endif()
  set(${out_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/src")
foreach(d vmm net guest-shim cmake)
  file(COPY "${SOURCE_DIR}/${d}" DESTINATION "${WORK}/src")
endforeach()
set(twin_header "${WORK}/build/spanvm_source_id.hpp")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/build_identity/twin" -B "${WORK}/build" -G "${GENERATOR}"
    "-DSPANVM_TWIN_SOURCE=${WORK}/src")
run(${CMAKE_COMMAND} --build "${WORK}/build")

source_id("${BUILD_HEADER}" ours)
source_id("${twin_header}" twin)
if(NOT ours STREQUAL twin)
  message(FATAL_ERROR "same source, different ids: this build ${ours}, the twin ${twin}")
endif()
message(STATUS "1. same source, same id: ${ours}")

file(TIMESTAMP "${twin_header}" before "%Y-%m-%dT%H:%M:%S")
execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1)
run(${CMAKE_COMMAND} --build "${WORK}/build")
file(TIMESTAMP "${twin_header}" after "%Y-%m-%dT%H:%M:%S")
if(NOT before STREQUAL after)
  message(FATAL_ERROR "an unchanged source rewrote the header (${before} -> ${after})")
endif()
message(STATUS "2. unchanged source, header untouched")

file(APPEND "${WORK}/src/net/wire_frame.hpp" "// another source\n")
run(${CMAKE_COMMAND} --build "${WORK}/build")
source_id("${twin_header}" changed)
if(changed STREQUAL ours)
  message(FATAL_ERROR "a changed source kept the id ${ours}")
endif()
message(STATUS "3. changed source, new id: ${changed}")
file(REMOVE_RECURSE "${WORK}")
