// What systemd 252, 257 and 262 report, verbatim (Manager.Version / Manager.Features of Debian's
// builds, from the I12 facts), and platforms built from them for tests.
import { platformFrom, type Platform } from '../../src/core/platform.js';

export const FEATURES_252 =
  '+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD -BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified';
export const FEATURES_257 =
  '+PAM +AUDIT +SELINUX +APPARMOR +IMA +IPE +SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD +LIBCRYPTSETUP +LIBCRYPTSETUP_PLUGINS +LIBFDISK +PCRE2 +PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD +BPF_FRAMEWORK +BTF -XKBCOMMON -UTMP +SYSVINIT +LIBARCHIVE';
export const FEATURES_262 =
  '+PAM +AUDIT +SELINUX +APPARMOR +IMA +IPE +SMACK +SECCOMP -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 +KMOD +LIBCRYPTSETUP +LIBCRYPTSETUP_PLUGINS +LIBFDISK +PCRE2 +PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD +BPF_FRAMEWORK +BTF -XKBCOMMON -UTMP +LIBARCHIVE';
export const VERSION_252 = '252.38-1~deb12u1';
export const VERSION_257 = '257.13-1~deb13u1';
export const VERSION_262 = '262.1-1';

/** Debian 12 in a test box: systemd 252 without BPF, kernel 6.1, no securityfs. */
export const DEBIAN12_PLATFORM: Platform = platformFrom({ systemdVersion: 252, features: FEATURES_252, kernelRelease: '6.1.0-28-amd64' });

/** Debian 13 with the BPF LSM active and securityfs mounted. */
export const DEBIAN13_PLATFORM: Platform = platformFrom({
  systemdVersion: 257, features: FEATURES_257, kernelRelease: '6.12.48+deb13-amd64', lsm: 'lockdown,capability,landlock,bpf\n',
});
