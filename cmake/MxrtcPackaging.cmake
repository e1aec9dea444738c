# MxrtcPackaging.cmake -- what `cmake --install` installs, the `docs` target and the CPack .debs.
# Included once from the root CMakeLists.txt after every module and app is defined.
#
# Install components (= Debian packages, see scripts/package.sh):
#   dev   libmxrtc-dev  static libraries + headers of the SDK, mxrtcConfig.cmake, mxrtc.pc
#   cli   mxrtc         the `mxrtc` command-line client
#   auth  mxrtc-auth    the authorization daemon, its systemd unit and an environment file example
include_guard(GLOBAL)
include(GNUInstallDirs)

set(MXRTC_PACKAGE_dev libmxrtc-dev)
set(MXRTC_PACKAGE_cli mxrtc)
set(MXRTC_PACKAGE_auth mxrtc-auth)

# ---- the C++ SDK ----------------------------------------------------------------------------------
# Every module an application can reach from mxrtc::call. Not auth: that is the daemon's library
# (it has spdlog in its headers and no use outside mxrtc-auth).
mxrtc_install_sdk(MODULES common core e2ee livekit net olm matrix rtc call)

# ---- programs --------------------------------------------------------------------------------------
if(TARGET mxrtc)
  install(TARGETS mxrtc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
endif()
if(TARGET mxrtc-auth)
  install(TARGETS mxrtc-auth RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT auth)
  # Relative: <prefix>/lib/systemd/system, i.e. /usr/lib/systemd/system in the .deb (systemd reads
  # it; an absolute /lib would escape `cmake --install --prefix`).
  set(MXRTC_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING "where mxrtc-auth.service is installed")
  set(MXRTC_AUTH_ENV_FILE /etc/mxrtc-auth/mxrtc-auth.env)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/mxrtc-auth.service.in
                 ${CMAKE_BINARY_DIR}/packaging/mxrtc-auth.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/mxrtc-auth.service
          DESTINATION ${MXRTC_SYSTEMD_UNIT_DIR} COMPONENT auth)
  install(FILES ${CMAKE_SOURCE_DIR}/packaging/mxrtc-auth.env.example
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mxrtc-auth/examples COMPONENT auth)
endif()
set(MXRTC_PACKAGE_CONTACT "mxrtc maintainers <mxrtc-maintainers@localhost>" CACHE STRING
    "Maintainer field of the Debian packages (a placeholder until the project has a contact address)")
# Each package's /usr/share/doc/<package>/: the upstream CHANGELOG.md as changelog.gz and a
# one-entry changelog.Debian.gz pointing at it (dated from SOURCE_DATE_EPOCH when set).
set(_docgen ${CMAKE_BINARY_DIR}/packaging/doc)
file(MAKE_DIRECTORY ${_docgen})
file(COPY_FILE ${CMAKE_SOURCE_DIR}/CHANGELOG.md ${_docgen}/changelog ONLY_IF_DIFFERENT)
string(TIMESTAMP _debdate "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${_docgen}/changelog.Debian
     "mxrtc (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Upstream release ${PROJECT_VERSION}: see changelog.gz (CHANGELOG.md).\n\n"
     " -- ${MXRTC_PACKAGE_CONTACT}  ${_debdate}\n")
foreach(f changelog changelog.Debian)
  file(ARCHIVE_CREATE OUTPUT ${_docgen}/${f}.gz PATHS ${_docgen}/${f} FORMAT raw COMPRESSION GZip
       COMPRESSION_LEVEL 9)
endforeach()
foreach(component dev cli auth)
  install(FILES ${_docgen}/changelog.gz ${_docgen}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${MXRTC_PACKAGE_${component}} COMPONENT ${component})
endforeach()

# ---- API reference (Doxygen) -----------------------------------------------------------------------
# `cmake --build <dir> --target docs` -> <dir>/docs/html/index.html; warnings are errors
# (scripts/docs.sh does configure + build in build-docs/).
find_package(Doxygen QUIET)
find_package(Python3 QUIET COMPONENTS Interpreter)  # docs/comment_filter.py
if(DOXYGEN_FOUND AND Python3_Interpreter_FOUND)
  # The installed headers (not auth: see above), whether or not this build compiles them.
  set(MXRTC_DOCS_INPUT "${CMAKE_SOURCE_DIR}/docs/api.md")
  foreach(m IN ITEMS common core e2ee livekit net olm matrix rtc call)
    string(APPEND MXRTC_DOCS_INPUT " ${CMAKE_SOURCE_DIR}/include/mxrtc/${m}")
  endforeach()
  string(APPEND MXRTC_DOCS_INPUT " ${MXRTC_VERSION_HEADER}")
  configure_file(${CMAKE_SOURCE_DIR}/docs/Doxyfile.in ${CMAKE_BINARY_DIR}/docs/Doxyfile @ONLY)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E remove_directory ${CMAKE_BINARY_DIR}/docs/html
    COMMAND Doxygen::doxygen ${CMAKE_BINARY_DIR}/docs/Doxyfile
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    COMMENT "Doxygen: API reference of the public headers -> ${CMAKE_BINARY_DIR}/docs/html"
    VERBATIM)
endif()

# ---- Debian packages (CPack) -----------------------------------------------------------------------
# Configure a Release build with -DCMAKE_INSTALL_PREFIX=/usr (multiarch libdir), then `cpack -G DEB`.
set(CPACK_PACKAGE_NAME mxrtc)
set(CPACK_PACKAGE_VENDOR "mxrtc")
set(CPACK_PACKAGE_CONTACT "${MXRTC_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MatrixRTC calls in C++")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_COMPONENTS_ALL dev cli auth)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends of the binaries from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)  # programs only (static libraries are not stripped)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${MXRTC_PACKAGE_dev})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# Descriptions: a summary line, then lines of at most 80 characters.
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "MatrixRTC C++ SDK (static libraries and headers)\n\
 mxrtc::call::Call joins a Matrix room's MatrixRTC call (Element Call\n\
 compatible): membership with delayed leave, E2EE media keys over Olm,\n\
 and media over a WebRTC mesh or a LiveKit SFU. Use it with\n\
 find_package(mxrtc) (target mxrtc::call) or pkg-config (mxrtc).")
# Static libraries: a consumer links their dependencies itself, so it needs their -dev packages.
set(_dev_depends "libssl-dev (>= 3), nlohmann-json3-dev (>= 3.11), libboost1.81-dev, libprotobuf-dev (>= 3.21)")
if(TARGET mxrtc_olm)
  string(APPEND _dev_depends ", libolm-dev, libsqlite3-dev")
endif()
if(TARGET mxrtc_rtc)
  string(APPEND _dev_depends ", libgstreamer1.0-dev (>= 1.22), libgstreamer-plugins-base1.0-dev (>= 1.22)"
                             ", libgstreamer-plugins-bad1.0-dev (>= 1.22), pkg-config")
  set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS
      "gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad, gstreamer1.0-nice")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_dev_depends}")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME ${MXRTC_PACKAGE_cli})
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION net)
set(CPACK_COMPONENT_CLI_DESCRIPTION
    "MatrixRTC calls from the command line\n\
 mxrtc logs in to a Matrix homeserver, joins, rings and inspects MatrixRTC\n\
 calls, with test media over a WebRTC mesh or a LiveKit SFU and end-to-end\n\
 encrypted media keys.")
if(TARGET mxrtc_rtc)  # media at run time: webrtcbin, libnice, Opus, VP8 elements
  set(CPACK_DEBIAN_CLI_PACKAGE_RECOMMENDS
      "gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, gstreamer1.0-plugins-bad, gstreamer1.0-nice")
endif()

set(CPACK_DEBIAN_AUTH_PACKAGE_NAME ${MXRTC_PACKAGE_auth})
set(CPACK_DEBIAN_AUTH_PACKAGE_SECTION net)
set(CPACK_COMPONENT_AUTH_DESCRIPTION
    "MatrixRTC authorization service (lk-jwt-service compatible)\n\
 mxrtc-auth hands LiveKit JWTs to Matrix users after verifying their OpenID\n\
 token. It runs as a systemd service (mxrtc-auth.service) under its own\n\
 dynamic user; configure it in /etc/mxrtc-auth/mxrtc-auth.env (example in\n\
 /usr/share/doc/mxrtc-auth/examples).")
# The maintainer scripts use deb-systemd-helper / deb-systemd-invoke.
set(CPACK_DEBIAN_AUTH_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_AUTH_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/auth/postinst ${CMAKE_SOURCE_DIR}/packaging/auth/prerm
    ${CMAKE_SOURCE_DIR}/packaging/auth/postrm)
set(CPACK_DEBIAN_AUTH_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
