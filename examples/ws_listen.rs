//! Opens a WebSocket to a running Sesame and prints every frame it pushes:
//! the README's walk uses it to watch a message arrive.
//!
//! ```text
//! cargo run --release --example ws_listen -- TOKEN [ws://127.0.0.1:8080]
//! ```
//!
//! TOKEN is an access JWT or an opaque token. It stops when the server
//! closes the socket (logout, a bad token, the access JWT's expiry,
//! shutdown) or on Ctrl-C.

use tungstenite::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let token = args
        .next()
        .ok_or("usage: ws_listen TOKEN [ws://127.0.0.1:8080]")?;
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:8080".into());
    let (mut socket, _) =
        tungstenite::connect(format!("{}/ws/{token}", base.trim_end_matches('/')))?;
    eprintln!("ws_listen: connected to {base}; waiting for frames (Ctrl-C stops)");
    loop {
        // Pings are answered by tungstenite inside `read`.
        match socket.read()? {
            Message::Text(text) => println!("{text}"),
            Message::Close(frame) => {
                let reason = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                println!("closed by the server: {}", reason.unwrap_or_default());
                return Ok(());
            }
            _ => {}
        }
    }
}
