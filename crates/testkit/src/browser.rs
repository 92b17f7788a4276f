use std::collections::HashMap;

use serde_json::Value;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url, WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// A browser with webauthn-rs's software passkey: it answers the options a
/// server sends with `credential.toJSON()`-shaped responses, as a browser
/// at `origin` would. The soft passkey keeps no discoverable credentials,
/// so for an empty `allowCredentials` this browser offers the ones it made
/// and returns the user handle it was given at registration, as a
/// discoverable passkey does.
pub struct SoftBrowser {
    origin: Url,
    authenticator: WebauthnAuthenticator<SoftPasskey>,
    /// Credential id (base64url) → the user handle it was registered with.
    handles: HashMap<String, Value>,
}

impl SoftBrowser {
    /// A browser at `origin` (`http://localhost:...` or `https://...`) with
    /// a fresh authenticator that performs user verification.
    pub fn new(origin: &str) -> Self {
        SoftBrowser {
            origin: Url::parse(origin).expect("a valid origin"),
            authenticator: WebauthnAuthenticator::new(SoftPasskey::new(true)),
            handles: HashMap::new(),
        }
    }

    /// The same authenticator reached from another origin.
    pub fn set_origin(&mut self, origin: &str) {
        self.origin = Url::parse(origin).expect("a valid origin");
    }

    /// Answers creation options (`{"publicKey": ...}`) with a registration
    /// response, or says why the authenticator refused.
    pub fn create(&mut self, options: &Value) -> Result<Value, String> {
        let options: CreationChallengeResponse =
            serde_json::from_value(options.clone()).map_err(|e| format!("options: {e}"))?;
        let user_handle = serde_json::to_value(&options.public_key.user.id).unwrap();
        let response = self
            .authenticator
            .do_registration(self.origin.clone(), options)
            .map_err(|e| format!("{e:?}"))?;
        let response = serde_json::to_value(&response).unwrap();
        self.handles
            .insert(response["id"].as_str().unwrap().to_owned(), user_handle);
        Ok(response)
    }

    /// Answers request options (`{"publicKey": ...}`) with an
    /// authentication response, or says why the authenticator refused.
    pub fn get(&mut self, options: &Value) -> Result<Value, String> {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|list| list.is_empty());
        if discoverable {
            let mine: Vec<Value> = self
                .handles
                .keys()
                .map(|id| serde_json::json!({"type": "public-key", "id": id}))
                .collect();
            options["publicKey"]["allowCredentials"] = Value::Array(mine);
        }
        let options: RequestChallengeResponse =
            serde_json::from_value(options).map_err(|e| format!("options: {e}"))?;
        let response = self
            .authenticator
            .do_authentication(self.origin.clone(), options)
            .map_err(|e| format!("{e:?}"))?;
        let mut response = serde_json::to_value(&response).unwrap();
        if discoverable {
            let handle = self.handles[response["id"].as_str().unwrap()].clone();
            response["response"]["userHandle"] = handle;
        }
        Ok(response)
    }
}
