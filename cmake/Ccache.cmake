# ccache makes the second build of a clean clone (CI on the same machine) nearly free.
find_program(PSIG_CCACHE ccache)
if(PSIG_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${PSIG_CCACHE})
endif()
