// A test-only shim over Debian's libsrtp2, the reference SRTP implementation, for interoperability tests.
#ifndef RAMPART_LIBSRTP_SHIM_H
#define RAMPART_LIBSRTP_SHIM_H

/// Profiles: 0 AES_CM_128_HMAC_SHA1_80, 1 AES_CM_128_HMAC_SHA1_32, 2 AES_256_CM_HMAC_SHA1_80,
/// 3 AES_256_CM_HMAC_SHA1_32, 4 AEAD_AES_128_GCM, 5 AEAD_AES_256_GCM. SSRC 0: the wildcard template for
/// `inbound` or outbound streams. Returns NULL on failure.
/// The profile number of an SDES suite name, or -1 for a suite the shim does not offer.
int rampart_libsrtp_profile(const char *suite);
void *rampart_libsrtp_session(int profile, unsigned int ssrc, const unsigned char *key_and_salt, int inbound);
/// srtp_protect / srtp_unprotect in place; `length` in and out. Returns libsrtp's status (0: ok).
int rampart_libsrtp_protect(void *session, unsigned char *packet, int *length);
int rampart_libsrtp_unprotect(void *session, unsigned char *packet, int *length);
int rampart_libsrtp_protect_rtcp(void *session, unsigned char *packet, int *length);
int rampart_libsrtp_unprotect_rtcp(void *session, unsigned char *packet, int *length);
/// Two master keys told apart by MKIs of `mki_size` octets.
void *rampart_libsrtp_session_mki(int profile, unsigned int ssrc, const unsigned char *first_key_and_salt,
                                  const unsigned char *second_key_and_salt, const unsigned char *first_mki,
                                  const unsigned char *second_mki, unsigned int mki_size, int inbound);
int rampart_libsrtp_protect_mki(void *session, unsigned char *packet, int *length, unsigned int mki_index, int rtcp);
int rampart_libsrtp_unprotect_mki(void *session, unsigned char *packet, int *length, int rtcp);
void rampart_libsrtp_free(void *session);

#endif
