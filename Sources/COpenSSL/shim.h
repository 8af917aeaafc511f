// The system OpenSSL 3 (libcrypto) for the media path: EVP ciphers and MACs with contexts kept for a stream's
// life (swift-crypto re-keys on every call). Only what MediaSecurity uses; function-like macros Swift cannot
// import are wrapped as static inline functions here.
#ifndef RAMPART_COPENSSL_SHIM_H
#define RAMPART_COPENSSL_SHIM_H

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/rand.h>

#endif
