#include "libsrtp_shim.h"
#include <srtp2/srtp.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int initialized = 0;

static void initialize(void) { initialized = srtp_init() == srtp_err_status_ok; }

int rampart_libsrtp_profile(const char *suite) {
    static const char *const names[] = {"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80",
                                        "AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"};
    for (int profile = 0; profile < 6; profile++) {
        if (strcmp(suite, names[profile]) == 0) return profile;
    }
    return -1;
}

static void *make_session(int profile, unsigned int ssrc, const unsigned char *key_and_salt, int inbound,
                          srtp_master_key_t **keys, unsigned long key_count) {
    pthread_once(&once, initialize);  // test cases run in parallel
    if (!initialized) return NULL;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    switch (profile) {
    case 0: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp); break;
    case 1: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp); break;
    case 2: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&policy.rtp); break;
    case 3: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&policy.rtp); break;
    case 4: srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp); break;
    case 5: srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp); break;
    default: return NULL;
    }
    // SRTCP uses the 80-bit tag with every HMAC-SHA1 suite (RFC 3711 §5.2), the suite itself with AEAD.
    if (profile == 2 || profile == 3) srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&policy.rtcp);
    else if (profile >= 4) policy.rtcp = policy.rtp;
    else srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    // An SSRC-specific stream serves either direction in libsrtp2; SSRC 0 asks for its template (wildcard).
    if (ssrc == 0) {
        policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    } else {
        policy.ssrc.type = ssrc_specific;
        policy.ssrc.value = ssrc;
    }
    policy.key = (unsigned char *)key_and_salt;
    policy.keys = keys;
    policy.num_master_keys = key_count;
    policy.window_size = 128;
    policy.next = NULL;
    srtp_t session = NULL;
    if (srtp_create(&session, &policy) != srtp_err_status_ok) return NULL;
    return session;
}

void *rampart_libsrtp_session(int profile, unsigned int ssrc, const unsigned char *key_and_salt, int inbound) {
    return make_session(profile, ssrc, key_and_salt, inbound, NULL, 0);
}

void *rampart_libsrtp_session_mki(int profile, unsigned int ssrc, const unsigned char *first_key_and_salt,
                                  const unsigned char *second_key_and_salt, const unsigned char *first_mki,
                                  const unsigned char *second_mki, unsigned int mki_size, int inbound) {
    srtp_master_key_t first = {(unsigned char *)first_key_and_salt, (unsigned char *)first_mki, mki_size};
    srtp_master_key_t second = {(unsigned char *)second_key_and_salt, (unsigned char *)second_mki, mki_size};
    srtp_master_key_t *keys[2] = {&first, &second};
    return make_session(profile, ssrc, NULL, inbound, keys, 2);  // libsrtp2 copies the keys
}

int rampart_libsrtp_protect_mki(void *session, unsigned char *packet, int *length, unsigned int mki_index, int rtcp) {
    return rtcp ? (int)srtp_protect_rtcp_mki((srtp_t)session, packet, length, 1, mki_index)
                : (int)srtp_protect_mki((srtp_t)session, packet, length, 1, mki_index);
}

int rampart_libsrtp_unprotect_mki(void *session, unsigned char *packet, int *length, int rtcp) {
    return rtcp ? (int)srtp_unprotect_rtcp_mki((srtp_t)session, packet, length, 1)
                : (int)srtp_unprotect_mki((srtp_t)session, packet, length, 1);
}

int rampart_libsrtp_protect(void *session, unsigned char *packet, int *length) {
    return (int)srtp_protect((srtp_t)session, packet, length);
}

int rampart_libsrtp_unprotect(void *session, unsigned char *packet, int *length) {
    return (int)srtp_unprotect((srtp_t)session, packet, length);
}

int rampart_libsrtp_protect_rtcp(void *session, unsigned char *packet, int *length) {
    return (int)srtp_protect_rtcp((srtp_t)session, packet, length);
}

int rampart_libsrtp_unprotect_rtcp(void *session, unsigned char *packet, int *length) {
    return (int)srtp_unprotect_rtcp((srtp_t)session, packet, length);
}

void rampart_libsrtp_free(void *session) { srtp_dealloc((srtp_t)session); }
