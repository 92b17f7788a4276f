use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_cbor_2::Value as Cbor;
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

    /// Answers creation options as a hand-made authenticator may: with a
    /// credential id of `id_bytes` bytes and `none` attestation (which signs
    /// nothing, so any authenticator data passes).
    pub fn create_with_credential_id(
        &mut self,
        options: &Value,
        id_bytes: usize,
    ) -> Result<Value, String> {
        let mut response = self.create(options)?;
        let object = URL_SAFE_NO_PAD
            .decode(response["response"]["attestationObject"].as_str().unwrap())
            .unwrap();
        let Ok(Cbor::Map(mut object)) = serde_cbor_2::from_slice::<Cbor>(&object) else {
            return Err("an attestation object that is not a map".into());
        };
        let Some(Cbor::Bytes(data)) = object.get(&Cbor::Text("authData".into())) else {
            return Err("no authenticator data".into());
        };
        // rpIdHash, flags and counter (37 bytes), aaguid (16), the id's length (2).
        let old_len = usize::from(u16::from_be_bytes([data[53], data[54]]));
        let id = vec![0xA5; id_bytes];
        let length = u16::try_from(id_bytes).map_err(|e| e.to_string())?;
        let mut rewritten = data[..53].to_vec();
        rewritten.extend(length.to_be_bytes());
        rewritten.extend(&id);
        rewritten.extend(&data[55 + old_len..]);
        object.insert(Cbor::Text("fmt".into()), Cbor::Text("none".into()));
        object.insert(Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new()));
        object.insert(Cbor::Text("authData".into()), Cbor::Bytes(rewritten));
        let object = serde_cbor_2::to_vec(&Cbor::Map(object)).map_err(|e| e.to_string())?;
        let id = URL_SAFE_NO_PAD.encode(&id);
        response["response"]["attestationObject"] = URL_SAFE_NO_PAD.encode(object).into();
        response["id"] = id.clone().into();
        response["rawId"] = id.into();
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
