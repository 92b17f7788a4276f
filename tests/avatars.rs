//! Avatars black-box over HTTP on both backends: multipart uploads on
//! PUT/PATCH /auth/users/me/ and /auth/users/{id}/, formats told by content,
//! the size limit, files under <data_dir>/avatars/ and /media/avatars/{file}.

mod common;

use std::path::Path;

use common::{TestApp, PASSWORD};
use serde_json::{json, Value};

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
/// Made by Pillow: `scripts/make_avatar_fixtures.py`.
const JPEG: &[u8] = include_bytes!("fixtures/avatars/pixel.jpg");
/// 4097 pixels wide, a few bytes: past the widest avatar Sesame takes.
const WIDE_PNG: &[u8] = include_bytes!("fixtures/avatars/wide.png");
const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04";
const WEBP: &[u8] =
    b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0/\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0";
const BOUNDARY: &str = "sesame-test-boundary-7MA4YWxkTrZu0gW";

/// A part of a multipart form.
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, filename, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

struct Raw {
    status: u16,
    content_type: String,
    bytes: Vec<u8>,
    json: Value,
}

fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Raw {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", app.base));
    if let Some(token) = token {
        builder = builder.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header("Content-Type", content_type);
    }
    let mut response = agent
        .run(builder.body(body).unwrap())
        .expect("Sesame answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Raw {
        status,
        content_type,
        bytes,
        json,
    }
}

fn upload(app: &TestApp, method: &str, path: &str, token: &str, parts: &[Part]) -> Raw {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    send(
        app,
        method,
        path,
        Some(token),
        Some(&content_type),
        multipart(parts),
    )
}

fn get(app: &TestApp, path: &str) -> Raw {
    send(app, "GET", path, None, None, Vec::new())
}

/// The files in `<data_dir>/avatars/`.
fn stored(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("avatars"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn file_of(url: &Value) -> String {
    url.as_str()
        .and_then(|u| u.strip_prefix("/media/avatars/"))
        .unwrap_or_else(|| panic!("not an avatar URL: {url}"))
        .to_owned()
}

backend_tests! {
    fn avatars_upload_serve_replace_and_remove(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("alice");

        // Mise à jour du profil with a file: the other fields change too.
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[
            Part::Text("first_name", "Alice"),
            Part::File("avatar", "me.txt", PNG),
        ]);
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(reply.json["first_name"], "Alice");
        let first = file_of(&reply.json["avatar"]);
        assert!(first.ends_with(".png"), "{first}");
        assert_ne!(first, "me.png");
        assert_eq!(stored(&app.data_dir), std::slice::from_ref(&first));
        assert_eq!(std::fs::read(app.data_dir.join("avatars").join(&first)).unwrap(), PNG);
        assert_eq!(app.get("/auth/users/me/", Some(&token)).json["avatar"], format!("/media/avatars/{first}"));

        let served = get(&app, &format!("/media/avatars/{first}"));
        assert_eq!((served.status, served.content_type.as_str()), (200, "image/png"));
        assert_eq!(served.bytes, PNG);

        // Every accepted format, told by content (the name says otherwise).
        let mut previous = first.clone();
        for (bytes, extension, content_type) in [
            (JPEG, "jpg", "image/jpeg"),
            (GIF, "gif", "image/gif"),
            (WEBP, "webp", "image/webp"),
        ] {
            let reply = upload(&app, "PUT", "/auth/users/me/", &token, &[Part::File("avatar", "picture.png", bytes)]);
            assert_eq!(reply.status, 200, "{:?}", reply.json);
            let name = file_of(&reply.json["avatar"]);
            assert!(name.ends_with(extension), "{name}");
            // The old file is gone, and so is its URL.
            assert_eq!(stored(&app.data_dir), std::slice::from_ref(&name));
            assert_eq!(get(&app, &format!("/media/avatars/{previous}")).status, 404);
            let served = get(&app, &format!("/media/avatars/{name}"));
            assert_eq!((served.status, served.content_type.as_str()), (200, content_type));
            assert_eq!(served.bytes, bytes);
            previous = name;
        }

        // `"avatar": null` in JSON removes it.
        let cleared = app.patch("/auth/users/me/", Some(&token), json!({"avatar": null}));
        assert_eq!((cleared.status, cleared.json["avatar"].clone()), (200, json!(null)));
        assert!(stored(&app.data_dir).is_empty());
        assert_eq!(get(&app, &format!("/media/avatars/{previous}")).status, 404);

        // An empty text `avatar` in a form removes it too; a file input left empty changes nothing.
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "a.gif", GIF)]);
        let gif = file_of(&reply.json["avatar"]);
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "", b""), Part::Text("last_name", "Liddell")]);
        assert_eq!((reply.status, reply.json["last_name"].clone()), (200, json!("Liddell")));
        assert_eq!(file_of(&reply.json["avatar"]), gif);
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::Text("avatar", "")]);
        assert_eq!(reply.json["avatar"], json!(null));
        assert!(stored(&app.data_dir).is_empty());
    }

    fn refused_uploads_leave_the_old_avatar(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("alice");
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "a.png", PNG)]);
        let kept = file_of(&reply.json["avatar"]);

        let mut too_big = PNG.to_vec();
        too_big.resize(2 * 1024 * 1024 + 1, 0);
        let mut just_right = PNG.to_vec();
        just_right.resize(2 * 1024 * 1024, 0);
        for (parts, message) in [
            (vec![Part::File("avatar", "evil.png", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>".as_slice())], "Upload a valid image"),
            (vec![Part::File("avatar", "x.png", b"%PDF-1.7".as_slice())], "Upload a valid image"),
            (vec![Part::File("avatar", "cut.png", &PNG[..20])], "Upload a valid image"),
            (vec![Part::File("avatar", "wide.png", WIDE_PNG)], "at most 4096 pixels wide and high"),
            (vec![Part::File("avatar", "empty.png", b"".as_slice()), Part::Text("first_name", "X")], "empty"),
            (vec![Part::File("avatar", "big.png", too_big.as_slice()), Part::Text("first_name", "X")], "no larger than 2 MiB"),
            (vec![Part::Text("avatar", "https://example.com/me.png")], "not a file"),
        ] {
            let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &parts);
            assert_eq!(reply.status, 400, "{:?}", reply.json);
            let messages = reply.json["avatar"].as_array().unwrap_or_else(|| panic!("{:?}", reply.json));
            assert!(messages[0].as_str().unwrap().contains(message), "{:?}", reply.json);
            let me = app.get("/auth/users/me/", Some(&token));
            assert_eq!(file_of(&me.json["avatar"]), kept);
            assert_eq!(me.json["first_name"], "");
            assert_eq!(stored(&app.data_dir), std::slice::from_ref(&kept));
        }
        let json_string = app.patch("/auth/users/me/", Some(&token), json!({"avatar": "/media/avatars/x.png"}));
        assert_eq!(json_string.status, 400);
        assert!(json_string.json["avatar"][0].as_str().unwrap().contains("not a file"));
        // A form's fields are checked as the JSON body's are, every problem at once.
        let both = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::Text("avatar", "me.png"), Part::Text("is_staff", "maybe")]);
        assert_eq!(both.status, 400);
        assert!(both.json["avatar"][0].as_str().unwrap().contains("not a file"), "{:?}", both.json);
        assert_eq!(both.json["is_staff"], json!(["Must be a valid boolean."]));

        // Exactly at the limit is fine; far past it the body is cut off.
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "ok.png", &just_right)]);
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let mut huge = PNG.to_vec();
        huge.resize(6 * 1024 * 1024, 0);
        let reply = upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "huge.png", &huge)]);
        assert_eq!(reply.status, 413);
        assert_eq!(stored(&app.data_dir).len(), 1);

        // Malformed multipart is a 400 in the DRF shape.
        let broken = send(&app, "PATCH", "/auth/users/me/", Some(&token), Some("multipart/form-data"), b"nonsense".to_vec());
        assert_eq!(broken.status, 400);
        assert!(broken.json["detail"].is_string());
    }

    fn no_path_leaves_the_avatar_folder(backend) {
        let app = TestApp::spawn(&backend);
        let token = app.user_with_token("alice");
        upload(&app, "PATCH", "/auth/users/me/", &token, &[Part::File("avatar", "a.png", PNG)]);
        std::fs::write(app.data_dir.join("avatars").join("notes.png"), PNG).unwrap();
        let stem = "A".repeat(32);
        for path in [
            "/media/avatars/..%2Fjwt_secret".to_owned(),
            "/media/avatars/..%2F..%2Fetc%2Fpasswd".to_owned(),
            "/media/avatars/%2e%2e%2fsesame.db".to_owned(),
            "/media/avatars/jwt_secret".to_owned(),
            "/media/avatars/notes.png".to_owned(),
            format!("/media/avatars/{stem}.png"),
            format!("/media/avatars/{stem}.svg"),
            format!("/media/avatars/.{stem}.png.partial"),
            "/media/avatars/".to_owned(),
            "/media/avatars/%00.png".to_owned(),
        ] {
            let reply = get(&app, &path);
            assert!(reply.status == 404, "{path}: {}", reply.status);
            assert!(!reply.bytes.starts_with(PNG), "{path}");
        }
    }

    fn admins_set_other_avatars_and_deletion_removes_the_file(backend) {
        let app = TestApp::spawn(&backend);
        let admin = app.admin_token("root");
        let alice = app.user_with_token("alice");
        let bob = app.register("bob");
        let bob_id = bob["id"].as_i64().unwrap();

        // Others' ids are not found for a non-admin, and nothing is stored.
        let refused = upload(&app, "PATCH", &format!("/auth/users/{bob_id}/"), &alice, &[Part::File("avatar", "a.png", PNG)]);
        assert_eq!(refused.status, 404);
        assert!(stored(&app.data_dir).is_empty());

        let reply = upload(&app, "PATCH", &format!("/auth/users/{bob_id}/"), &admin, &[
            Part::File("avatar", "b.gif", GIF),
            Part::Text("last_name", "Builder"),
        ]);
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(reply.json["id"], bob_id);
        assert_eq!(reply.json["last_name"], "Builder");
        let bobs = file_of(&reply.json["avatar"]);
        let reply = upload(&app, "PATCH", "/auth/users/me/", &alice, &[Part::File("avatar", "a.png", PNG)]);
        let alices = file_of(&reply.json["avatar"]);
        let mut both = vec![alices.clone(), bobs.clone()];
        both.sort();
        assert_eq!(stored(&app.data_dir), both);

        // Deleting an account removes its file, and only its file.
        let deleted = app.delete(&format!("/auth/users/{bob_id}/"), Some(&admin), json!({"current_password": PASSWORD}));
        assert_eq!(deleted.status, 204);
        assert_eq!(stored(&app.data_dir), std::slice::from_ref(&alices));
        assert_eq!(get(&app, &format!("/media/avatars/{bobs}")).status, 404);
        let deleted = app.delete("/auth/users/me/", Some(&alice), json!({"current_password": PASSWORD}));
        assert_eq!(deleted.status, 204);
        assert!(stored(&app.data_dir).is_empty());
    }
}
