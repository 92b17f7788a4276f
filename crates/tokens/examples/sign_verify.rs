//! Per-token cost of signing and verifying a Sesame-shaped JWT with each
//! algorithm, through jsonwebtoken's `rust_crypto` backend exactly as
//! `JwtKeys` calls it (header with `kid`, claims with `iss`), keys made by
//! the same crates as `SigningKeys::rotate`.
//!
//! `cargo run --release -p sesame-tokens --example sign_verify [N]`

use std::time::Instant;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::OsRng;
use serde_json::{json, Value};

fn keys(algorithm: Algorithm) -> (EncodingKey, DecodingKey) {
    match algorithm {
        Algorithm::HS256 => (
            EncodingKey::from_secret(&[7; 32]),
            DecodingKey::from_secret(&[7; 32]),
        ),
        Algorithm::ES256 => {
            use p256::pkcs8::EncodePrivateKey;
            let der = p256::SecretKey::random(&mut OsRng).to_pkcs8_der().unwrap();
            let encoding = EncodingKey::from_ec_der(der.as_bytes());
            let jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
            (encoding, DecodingKey::from_jwk(&jwk).unwrap())
        }
        Algorithm::RS256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
            let encoding = EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes());
            let jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
            (encoding, DecodingKey::from_jwk(&jwk).unwrap())
        }
        _ => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let der = key.to_pkcs8_der().unwrap();
            (
                EncodingKey::from_ed_der(der.as_bytes()),
                DecodingKey::from_ed_der(key.verifying_key().as_bytes()),
            )
        }
    }
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(2000, |n| n.parse().expect("a count"));
    let claims = json!({
        "sub": "42", "sid": "Yk3p0c2Vzc2lvbi1pZA", "jti": "bm90LWEtcmVhbC1qdGk",
        "iat": 1_700_000_000, "exp": 1_700_000_900, "typ": "access", "iss": "sesame",
    });
    println!("algorithm\tsign µs/token\tverify µs/token\ttoken bytes");
    for algorithm in [
        Algorithm::HS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
    ] {
        let (encoding, decoding) = keys(algorithm);
        let mut header = Header::new(algorithm);
        header.kid = Some("kid-0123456789".into());
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let start = Instant::now();
        let mut token = String::new();
        for _ in 0..n {
            token = encode(&header, &claims, &encoding).unwrap();
        }
        let sign = start.elapsed() / n;
        let start = Instant::now();
        for _ in 0..n {
            decode::<Value>(&token, &decoding, &validation).unwrap();
        }
        let verify = start.elapsed() / n;
        println!(
            "{algorithm:?}\t{:.1}\t{:.1}\t{}",
            sign.as_nanos() as f64 / 1000.0,
            verify.as_nanos() as f64 / 1000.0,
            token.len()
        );
    }
}
