//! The client side of SCRAM (RFC 5802) with SHA-256 / SHA-512 (RFC 7677), as Kafka brokers
//! speak it: no channel binding (gs2 header `n,,`), no authzid, at least 4096 iterations.
//!
//! The exchange is a typestate chain so a message cannot be produced out of order:
//! [`ScramClient::start`] → [`ClientFirstSent::handle_server_first`] →
//! [`ClientFinalSent::verify_server_final`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256, Sha512};

/// Kafka refuses fewer iterations than this for both SCRAM mechanisms.
pub const MIN_ITERATIONS: u32 = 4096;
/// A broker asking for more than this is broken or hostile: PBKDF2 would pin a CPU for ages.
const MAX_ITERATIONS: u32 = 1_000_000;
/// The gs2 header for "no channel binding, no authzid", also sent base64'd as `c=`.
const GS2_HEADER: &str = "n,,";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM server-first message: {0}")]
    MalformedServerFirst(String),
    #[error("SCRAM server nonce does not extend the client nonce")]
    NonceMismatch,
    #[error("SCRAM iteration count {got} is below the minimum of {min}")]
    TooFewIterations { got: u32, min: u32 },
    #[error("SCRAM iteration count {0} is implausibly high")]
    TooManyIterations(u32),
    #[error("malformed SCRAM server-final message: {0}")]
    MalformedServerFinal(String),
    #[error("the broker rejected the SCRAM authentication: {0}")]
    ServerError(String),
    #[error("the SCRAM server signature does not match: the broker does not know the password")]
    BadServerSignature,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramAlgorithm {
    Sha256,
    Sha512,
}

impl ScramAlgorithm {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        match self {
            Self::Sha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Sha512 => {
                let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
                out.to_vec()
            }
            Self::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// Keys derived from a password, shared by the client and (in tests) a server.
struct Keys {
    client_key: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

fn derive_keys(alg: ScramAlgorithm, password: &str, salt: &[u8], iterations: u32) -> Keys {
    let salted = alg.salted_password(password, salt, iterations);
    let client_key = alg.hmac(&salted, b"Client Key");
    let stored_key = alg.hash(&client_key);
    let server_key = alg.hmac(&salted, b"Server Key");
    Keys {
        client_key,
        stored_key,
        server_key,
    }
}

/// RFC 5802 saslname: `=` and `,` would end the attribute, so they are escaped.
fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

pub struct ScramClient;

impl ScramClient {
    /// Starts an exchange with a fresh random nonce; returns the state and client-first.
    pub fn start(alg: ScramAlgorithm, username: &str, password: &str) -> (ClientFirstSent, String) {
        let nonce = Alphanumeric.sample_string(&mut rand::rng(), 32);
        Self::start_with_nonce(alg, username, password, nonce)
    }

    /// As [`ScramClient::start`] with a given nonce, for test vectors.
    pub fn start_with_nonce(
        alg: ScramAlgorithm,
        username: &str,
        password: &str,
        nonce: String,
    ) -> (ClientFirstSent, String) {
        let client_first_bare = format!("n={},r={}", escape_saslname(username), nonce);
        let message = format!("{GS2_HEADER}{client_first_bare}");
        let state = ClientFirstSent {
            alg,
            password: password.to_string(),
            nonce,
            client_first_bare,
        };
        (state, message)
    }
}

/// Client-first was sent; waiting for server-first.
pub struct ClientFirstSent {
    alg: ScramAlgorithm,
    password: String,
    nonce: String,
    client_first_bare: String,
}

impl std::fmt::Debug for ClientFirstSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientFirstSent")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Splits `a=x,b=y` into (attribute, value) pairs.
fn attributes(message: &str) -> impl Iterator<Item = (char, &str)> {
    message.split(',').filter_map(|part| {
        let mut chars = part.chars();
        let name = chars.next()?;
        let value = part.get(1..)?.strip_prefix('=')?;
        Some((name, value))
    })
}

impl ClientFirstSent {
    /// Checks server-first and computes client-final (with the proof).
    pub fn handle_server_first(
        self,
        server_first: &str,
    ) -> Result<(ClientFinalSent, String), ScramError> {
        let malformed = |what: &str| ScramError::MalformedServerFirst(what.to_string());
        if server_first.starts_with("m=") {
            return Err(malformed("unsupported mandatory extension"));
        }
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for (name, value) in attributes(server_first) {
            match name {
                'r' => nonce = Some(value),
                's' => salt = Some(value),
                'i' => iterations = Some(value),
                'e' => return Err(ScramError::ServerError(value.to_string())),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| malformed("no nonce (r=)"))?;
        let salt = salt.ok_or_else(|| malformed("no salt (s=)"))?;
        let iterations = iterations.ok_or_else(|| malformed("no iteration count (i=)"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(ScramError::NonceMismatch);
        }
        let salt = BASE64
            .decode(salt)
            .map_err(|_| malformed("salt is not base64"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| malformed("iteration count is not a number"))?;
        if iterations < MIN_ITERATIONS {
            return Err(ScramError::TooFewIterations {
                got: iterations,
                min: MIN_ITERATIONS,
            });
        }
        if iterations > MAX_ITERATIONS {
            return Err(ScramError::TooManyIterations(iterations));
        }

        let keys = derive_keys(self.alg, &self.password, &salt, iterations);
        let without_proof = format!("c={},r={nonce}", BASE64.encode(GS2_HEADER));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = self.alg.hmac(&keys.stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = keys
            .client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let client_final = format!("{without_proof},p={}", BASE64.encode(proof));
        let server_signature = self.alg.hmac(&keys.server_key, auth_message.as_bytes());
        Ok((ClientFinalSent { server_signature }, client_final))
    }
}

/// Client-final was sent; waiting for server-final.
#[derive(Debug)]
pub struct ClientFinalSent {
    server_signature: Vec<u8>,
}

impl ClientFinalSent {
    /// Checks the server proved it knows the password too (`v=`), or reports its `e=`.
    pub fn verify_server_final(self, server_final: &str) -> Result<(), ScramError> {
        for (name, value) in attributes(server_final) {
            match name {
                'e' => return Err(ScramError::ServerError(value.to_string())),
                'v' => {
                    let got = BASE64.decode(value).map_err(|_| {
                        ScramError::MalformedServerFinal("signature is not base64".into())
                    })?;
                    return if got == self.server_signature {
                        Ok(())
                    } else {
                        Err(ScramError::BadServerSignature)
                    };
                }
                _ => {}
            }
        }
        Err(ScramError::MalformedServerFinal(
            "neither a verifier (v=) nor an error (e=)".into(),
        ))
    }
}

/// A minimal SCRAM server for tests (this module's and the fake broker in `testing/`).
#[cfg(test)]
pub(crate) mod test_server {
    use super::*;

    pub struct ScramServer {
        alg: ScramAlgorithm,
        username: String,
        password: String,
        salt: Vec<u8>,
        iterations: u32,
        server_nonce: String,
        state: Option<(String, String, String)>, // client-first-bare, server-first, nonce
    }

    /// Why the test server refused a client-first message.
    #[derive(Debug, thiserror::Error, PartialEq, Eq)]
    pub enum ClientFirstError {
        #[error("missing gs2 header")]
        MissingGs2Header,
        #[error("unknown user")]
        UnknownUser,
        #[error("no nonce")]
        NoNonce,
    }

    impl ScramServer {
        pub fn new(alg: ScramAlgorithm, username: &str, password: &str, iterations: u32) -> Self {
            Self {
                alg,
                username: username.to_string(),
                password: password.to_string(),
                salt: b"kconnect-test-salt".to_vec(),
                iterations,
                server_nonce: "server-nonce-123".to_string(),
                state: None,
            }
        }

        /// Handles client-first, returning server-first.
        pub fn first(&mut self, client_first: &str) -> Result<String, ClientFirstError> {
            let bare = client_first
                .strip_prefix("n,,")
                .ok_or(ClientFirstError::MissingGs2Header)?
                .to_string();
            let mut user = None;
            let mut nonce = None;
            for (name, value) in attributes(&bare) {
                match name {
                    'n' => user = Some(value.replace("=2C", ",").replace("=3D", "=")),
                    'r' => nonce = Some(value.to_string()),
                    _ => {}
                }
            }
            if user.as_deref() != Some(self.username.as_str()) {
                return Err(ClientFirstError::UnknownUser);
            }
            let nonce = format!(
                "{}{}",
                nonce.ok_or(ClientFirstError::NoNonce)?,
                self.server_nonce
            );
            let server_first = format!(
                "r={nonce},s={},i={}",
                BASE64.encode(&self.salt),
                self.iterations
            );
            self.state = Some((bare, server_first.clone(), nonce));
            Ok(server_first)
        }

        /// Handles client-final, returning server-final (`v=` on success, `e=` otherwise).
        pub fn finish(&mut self, client_final: &str) -> String {
            let Some((bare, server_first, nonce)) = self.state.take() else {
                return "e=other-error".into();
            };
            let Some((without_proof, proof)) = client_final.rsplit_once(",p=") else {
                return "e=invalid-encoding".into();
            };
            if without_proof != format!("c=biws,r={nonce}") {
                return "e=channel-bindings-dont-match".into();
            }
            let keys = derive_keys(self.alg, &self.password, &self.salt, self.iterations);
            let auth_message = format!("{bare},{server_first},{without_proof}");
            let signature = self.alg.hmac(&keys.stored_key, auth_message.as_bytes());
            let Ok(proof) = BASE64.decode(proof) else {
                return "e=invalid-proof".into();
            };
            let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
            if self.alg.hash(&client_key) != keys.stored_key {
                return "e=invalid-proof".into();
            }
            let verifier = self.alg.hmac(&keys.server_key, auth_message.as_bytes());
            format!("v={}", BASE64.encode(verifier))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::ScramServer;
    use super::*;

    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    #[test]
    fn rfc7677_sha256_test_vector() {
        let (state, first) = ScramClient::start_with_nonce(
            ScramAlgorithm::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (state, client_final) = state.handle_server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        state
            .verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let (state, _) = ScramClient::start_with_nonce(
            ScramAlgorithm::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        let (state, _) = state.handle_server_first(RFC_SERVER_FIRST).unwrap();
        let err = state
            .verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert_eq!(err, ScramError::BadServerSignature);
    }

    #[test]
    fn server_error_is_reported() {
        let (state, _) =
            ScramClient::start_with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc".into());
        let (state, _) = state
            .handle_server_first("r=abcdef,s=c2FsdA==,i=4096")
            .unwrap();
        assert_eq!(
            state.verify_server_final("e=invalid-proof").unwrap_err(),
            ScramError::ServerError("invalid-proof".into())
        );
    }

    #[test]
    fn low_iteration_count_is_rejected() {
        let (state, _) =
            ScramClient::start_with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc".into());
        let err = state
            .handle_server_first("r=abcdef,s=c2FsdA==,i=4095")
            .unwrap_err();
        assert_eq!(
            err,
            ScramError::TooFewIterations {
                got: 4095,
                min: 4096
            }
        );
    }

    #[test]
    fn foreign_nonce_is_rejected() {
        let (state, _) =
            ScramClient::start_with_nonce(ScramAlgorithm::Sha256, "u", "p", "abc".into());
        let err = state
            .handle_server_first("r=xyzdef,s=c2FsdA==,i=4096")
            .unwrap_err();
        assert_eq!(err, ScramError::NonceMismatch);
    }

    #[test]
    fn saslname_is_escaped() {
        let (_, first) =
            ScramClient::start_with_nonce(ScramAlgorithm::Sha512, "a=b,c", "p", "n".into());
        assert_eq!(first, "n,,n=a=3Db=2Cc,r=n");
    }

    #[test]
    fn sha512_round_trip_with_test_server() {
        let mut server = ScramServer::new(ScramAlgorithm::Sha512, "us,er", "secret", 4096);
        let (state, first) = ScramClient::start(ScramAlgorithm::Sha512, "us,er", "secret");
        let server_first = server.first(&first).unwrap();
        let (state, client_final) = state.handle_server_first(&server_first).unwrap();
        let server_final = server.finish(&client_final);
        assert!(server_final.starts_with("v="), "{server_final}");
        state.verify_server_final(&server_final).unwrap();

        // The wrong password fails at the server, which says so with e=.
        let mut server = ScramServer::new(ScramAlgorithm::Sha512, "us,er", "secret", 4096);
        let (state, first) = ScramClient::start(ScramAlgorithm::Sha512, "us,er", "wrong");
        let server_first = server.first(&first).unwrap();
        let (state, client_final) = state.handle_server_first(&server_first).unwrap();
        let server_final = server.finish(&client_final);
        assert!(matches!(
            state.verify_server_final(&server_final),
            Err(ScramError::ServerError(_))
        ));
    }
}
