#include "libsrtp_shim.h"
#include <srtp2/srtp.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int initialized = 0;

static void initialize(void) { initialized = srtp_init() == srtp_err_status_ok; }

void *rampart_libsrtp_session(int profile, unsigned int ssrc, const unsigned char *key_and_salt, int inbound) {
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
    (void)inbound;  // an SSRC-specific stream serves either direction in libsrtp2
    policy.ssrc.type = ssrc_specific;
    policy.ssrc.value = ssrc;
    policy.key = (unsigned char *)key_and_salt;
    policy.window_size = 128;
    policy.next = NULL;
    srtp_t session = NULL;
    if (srtp_create(&session, &policy) != srtp_err_status_ok) return NULL;
    return session;
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
