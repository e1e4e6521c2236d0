# spanvm_source_id_target(NAME SOURCE_DIR OUTPUT): a target, run on every
# build, that keeps OUTPUT (the source id header, source_id.cmake) up to
# date. OUTPUT is rewritten only when the id changed (restat), so the files
# that include it recompile only then. Used by the top-level CMakeLists.txt
# and by tests/build_identity (a second, separately configured build).
set(SPANVM_SOURCE_ID_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/source_id.cmake)
function(spanvm_source_id_target name source_dir output)
  add_custom_target(${name} ALL
    COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${source_dir} -DOUTPUT=${output} -P ${SPANVM_SOURCE_ID_SCRIPT}
    BYPRODUCTS ${output}
    COMMENT "Source id of ${source_dir}"
    VERBATIM)
endfunction()
