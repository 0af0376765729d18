# install.cmake - where `cmake --install` puts each file (FHS, Debian's
# layout with CMAKE_INSTALL_PREFIX=/usr), and the Debian package CPack
# builds from it (`scripts/dev package`).
include(GNUInstallDirs)

install(TARGETS adsengd DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS adsengctl DESTINATION ${CMAKE_INSTALL_BINDIR})

# systemd's units, sysusers and tmpfiles under the prefix's lib/ (Debian 12
# has merged /usr: /usr/lib/systemd/system is where its packages go).
install(FILES ${CMAKE_SOURCE_DIR}/systemd/adsengd.service
              ${CMAKE_SOURCE_DIR}/systemd/adsengd-purge.service
              ${CMAKE_SOURCE_DIR}/systemd/adsengd-purge.timer
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/adsengd.sysusers
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d RENAME adsengd.conf)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/adsengd.tmpfiles
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d RENAME adsengd.conf)

# The configuration: GNUInstallDirs makes SYSCONFDIR /etc for the /usr
# prefix.  In the package it is a conffile (packaging/deb/conffiles), so an
# upgrade never overwrites the operator's edits.
install(FILES ${CMAKE_SOURCE_DIR}/conf/adsengd.conf
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/adsengd)

install(FILES ${CMAKE_SOURCE_DIR}/docs/man/adsengd.8 ${CMAKE_SOURCE_DIR}/docs/man/adsengctl.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/adsengd.conf.5
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME adsengineer)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "AdsEngineer <ops@adsengineer.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "server-side conversion tracking for ad platforms")
# One string (CPack indents its lines under the summary above).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "adsengd receives Shopify, WooCommerce and GoHighLevel webhooks, stores
every event in PostgreSQL, and uploads conversions to Google Ads, Meta,
TikTok, GA4 and server-side GTM with retries; adsengctl administers it.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the binaries' shared libraries (dpkg-shlibdeps: libpq5,
# libevent, libcurl, libsodium, libssl, libcjson, libinih, libsystemd).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, postgresql-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/deb/conffiles;${CMAKE_SOURCE_DIR}/packaging/deb/postinst;${CMAKE_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
