# mxrtc_module(<name> [DEPS <targets>...] [PRIVATE_DEPS <targets>...])
#   One library per module: sources src/<name>/*.cpp, public headers include/mxrtc/<name>/.
#   Creates target mxrtc_<name> aliased mxrtc::<name> (exported as mxrtc::<name>, file libmxrtc_<name>.a).
#   DEPS: what the module's public headers need (other modules, nlohmann_json, Boost headers …);
#   consumers get their include directories and compile flags.
#   PRIVATE_DEPS: what only the sources use (OpenSSL, SQLite, libolm, GStreamer, protobuf-lite,
#   spdlog …). The libraries are static, so these still reach a consumer's link line (CMake exports
#   them as $<LINK_ONLY:…>), but never its include path or compile flags.
include(GNUInstallDirs)

function(mxrtc_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)  # a module being started: headers only for now
    add_library(mxrtc_${name} INTERFACE)
    add_library(mxrtc::${name} ALIAS mxrtc_${name})
    target_include_directories(mxrtc_${name} INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                                                       $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(mxrtc_${name} INTERFACE ${ARG_DEPS} ${ARG_PRIVATE_DEPS})
    target_compile_features(mxrtc_${name} INTERFACE cxx_std_20)
    set_target_properties(mxrtc_${name} PROPERTIES EXPORT_NAME ${name})
    return()
  endif()
  add_library(mxrtc_${name} STATIC ${srcs})
  add_library(mxrtc::${name} ALIAS mxrtc_${name})
  target_include_directories(mxrtc_${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(mxrtc_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_features(mxrtc_${name} PUBLIC cxx_std_20)  # the headers are C++20 (consumers too)
  set_target_properties(mxrtc_${name} PROPERTIES EXPORT_NAME ${name})
endfunction()

# mxrtc_install_sdk(MODULES <m>...)
#   `cmake --install` layout of the C++ SDK (see README "Using mxrtc as a library"):
#     lib/libmxrtc_<m>.a                      one static library per module that exists
#     include/mxrtc/<m>/*.hpp, mxrtc/version.hpp
#     lib/cmake/mxrtc/mxrtcConfig.cmake (+ Version, Targets)   find_package(mxrtc) -> mxrtc::<m>
#     lib/pkgconfig/mxrtc.pc                  pkg-config --cflags --libs mxrtc (= mxrtc::call)
#   Everything goes to the component "dev" (the libmxrtc-dev package).
function(mxrtc_install_sdk)
  cmake_parse_arguments(ARG "" "" "MODULES" ${ARGN})
  include(CMakePackageConfigHelpers)
  set(targets)
  set(present)
  foreach(m IN LISTS ARG_MODULES)
    if(TARGET mxrtc_${m})
      list(APPEND targets mxrtc_${m})
      list(APPEND present ${m})
      install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/mxrtc/${m} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mxrtc
              COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
    endif()
  endforeach()
  if(NOT targets)
    return()
  endif()
  install(TARGETS ${targets} EXPORT mxrtcTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
  install(FILES ${MXRTC_VERSION_HEADER} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mxrtc COMPONENT dev)

  set(cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/mxrtc)
  install(EXPORT mxrtcTargets NAMESPACE mxrtc:: DESTINATION ${cmakedir} COMPONENT dev)
  # What mxrtcConfig.cmake must find again (the link interface of the exported static libraries).
  set(MXRTC_CONFIG_MODULES "${present}")
  list(TRANSFORM present PREPEND "mxrtc::" OUTPUT_VARIABLE MXRTC_CONFIG_TARGETS)
  list(JOIN MXRTC_CONFIG_TARGETS " " MXRTC_CONFIG_TARGETS)
  if(OLM_LIBRARY)
    set(MXRTC_CONFIG_OLM_PKGCONFIG OFF)
  else()
    set(MXRTC_CONFIG_OLM_PKGCONFIG ON)
  endif()
  if(TARGET mxrtc_rtc)
    set(MXRTC_CONFIG_WITH_RTC ON)
  else()
    set(MXRTC_CONFIG_WITH_RTC OFF)
  endif()
  configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/mxrtcConfig.cmake.in
                                ${CMAKE_BINARY_DIR}/mxrtcConfig.cmake INSTALL_DESTINATION ${cmakedir})
  # 0.x: a minor release may break the API, so only the same major.minor is compatible.
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/mxrtcConfigVersion.cmake
                                   COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/mxrtcConfig.cmake ${CMAKE_BINARY_DIR}/mxrtcConfigVersion.cmake
          DESTINATION ${cmakedir} COMPONENT dev)

  # pkg-config: the static libraries in link order (dependents first) and what they need.
  set(order call rtc matrix olm net livekit e2ee core common)
  set(MXRTC_PC_LIBS "")
  foreach(m IN LISTS order)
    if(m IN_LIST present)
      string(APPEND MXRTC_PC_LIBS " -lmxrtc_${m}")
    endif()
  endforeach()
  set(MXRTC_PC_REQUIRES "nlohmann_json, openssl, protobuf-lite")
  if("matrix" IN_LIST present)
    string(APPEND MXRTC_PC_REQUIRES ", olm, sqlite3")
  endif()
  if(MXRTC_CONFIG_WITH_RTC)
    string(APPEND MXRTC_PC_REQUIRES ", gstreamer-1.0 >= 1.22, gstreamer-webrtc-1.0 >= 1.22, gstreamer-sdp-1.0 >= 1.22"
                                    ", gstreamer-app-1.0 >= 1.22, gstreamer-rtp-1.0 >= 1.22, gstreamer-video-1.0 >= 1.22")
  endif()
  # The prefix is only known at install time (`cmake --install --prefix`, CPack's /usr): the file is
  # configured with a placeholder and the prefix put in when it is installed.
  set(MXRTC_PC_PREFIX "@MXRTC_PC_PREFIX@")
  configure_file(${CMAKE_SOURCE_DIR}/cmake/mxrtc.pc.in ${CMAKE_BINARY_DIR}/mxrtc.pc.in @ONLY)
  install(CODE "
    set(MXRTC_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${CMAKE_BINARY_DIR}/mxrtc.pc.in\" \"${CMAKE_BINARY_DIR}/mxrtc.pc\" @ONLY)"
    COMPONENT dev)
  install(FILES ${CMAKE_BINARY_DIR}/mxrtc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endfunction()

# mxrtc_unit_tests(<module>): tests/unit/<module>/*_test.cpp -> one gtest binary, label "unit".
function(mxrtc_unit_tests name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/${name}/*_test.cpp)
  if(NOT srcs)
    return()
  endif()
  add_executable(mxrtc_${name}_tests ${srcs})
  target_link_libraries(mxrtc_${name}_tests PRIVATE mxrtc::${name} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(mxrtc_${name}_tests PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_compile_definitions(mxrtc_${name}_tests PRIVATE MXRTC_VECTORS_DIR="${MXRTC_VECTORS_DIR}")
  gtest_discover_tests(mxrtc_${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
  # `ninja unit_tests`: every unit binary and nothing else (the sanitizer job builds only these).
  if(NOT TARGET unit_tests)
    add_custom_target(unit_tests)
  endif()
  add_dependencies(unit_tests mxrtc_${name}_tests)
endfunction()

# mxrtc_benchmarks(): bench/<module>_bench.cpp -> mxrtc_<module>_bench (never part of ctest).
function(mxrtc_benchmarks)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bench/*_bench.cpp)
  foreach(src IN LISTS srcs)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_bench$" "" module ${stem})
    if(NOT TARGET mxrtc_${module})
      continue()
    endif()
    add_executable(mxrtc_${stem} ${src})
    target_link_libraries(mxrtc_${stem} PRIVATE mxrtc::${module} benchmark::benchmark benchmark::benchmark_main)
    target_compile_definitions(mxrtc_${stem} PRIVATE MXRTC_VECTORS_DIR="${MXRTC_VECTORS_DIR}")
  endforeach()
endfunction()

# mxrtc_fuzzers(): fuzz/<name>_fuzz.cpp -> fuzz_<name>, linked with every pure module.
function(mxrtc_fuzzers)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*_fuzz.cpp)
  foreach(src IN LISTS srcs)
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "_fuzz$" "" name ${stem})
    add_executable(fuzz_${name} ${src})
    target_link_libraries(fuzz_${name} PRIVATE mxrtc::core mxrtc::e2ee mxrtc::livekit mxrtc::common)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  endforeach()
endfunction()
