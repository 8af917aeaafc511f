// The system OpenSSL 3 (libcrypto): EVP ciphers and MACs with contexts kept for a media stream's life (swift-crypto
// re-keys on every call), and P-256 arithmetic for StirShaken's verifying keys. Only what those use; function-like
// macros Swift cannot import are wrapped as static inline functions here.
#ifndef RAMPART_COPENSSL_SHIM_H
#define RAMPART_COPENSSL_SHIM_H

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

// A fixed-base table of an arbitrary point: OpenSSL 3.0 marks EC_GROUP_precompute_mult deprecated (its EVP
// replacement has no precomputation of a public key's multiples), but keeps it; StirShaken's verifying keys use it
// for the signers they check thousands of times (see ES256VerifyingKey).
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
static inline int rampart_EC_GROUP_precompute_mult(EC_GROUP *group, BN_CTX *context) {
    return EC_GROUP_precompute_mult(group, context);
}
#pragma clang diagnostic pop

#endif
