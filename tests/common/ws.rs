//! A tiny blocking WebSocket client for the black-box tests.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

pub struct Socket {
    socket: WebSocket<TcpStream>,
}

/// What a socket did within the time allowed.
#[derive(Debug, PartialEq)]
pub enum Event {
    Json(Value),
    Closed(u16, String),
    Nothing,
}

impl Socket {
    pub fn connect(base: &str, token: &str) -> Socket {
        let address = base.trim_start_matches("http://");
        Socket::over(
            TcpStream::connect(address).expect("Sesame accepts TCP"),
            base,
            token,
        )
    }

    /// The socket of `token`, over a connection already made.
    pub fn over(stream: TcpStream, base: &str, token: &str) -> Socket {
        let address = base.trim_start_matches("http://");
        let url = format!("ws://{address}/ws/{token}");
        let (socket, response) =
            tungstenite::client::client(url, stream).expect("the upgrade succeeds");
        assert_eq!(response.status().as_u16(), 101);
        Socket { socket }
    }

    /// The next JSON frame, close, or nothing within `within`. Pings are answered.
    pub fn next(&mut self, within: Duration) -> Event {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Nothing;
            }
            self.socket.get_mut().set_read_timeout(Some(left)).unwrap();
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return Event::Json(serde_json::from_str(text.as_str()).expect("JSON frames"))
                }
                Ok(Message::Close(frame)) => {
                    return match frame {
                        Some(frame) => {
                            Event::Closed(u16::from(frame.code), frame.reason.to_string())
                        }
                        None => Event::Closed(u16::from(CloseCode::Status), String::new()),
                    }
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Event::Nothing
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Event::Closed(1006, String::new())
                }
                Err(e) => panic!("WebSocket error: {e}"),
            }
        }
    }

    /// The next JSON frame; panics on anything else within `within`.
    pub fn json(&mut self, within: Duration) -> Value {
        match self.next(within) {
            Event::Json(value) => value,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// Stops answering pings: reads nothing until told to.
    pub fn into_inner(self) -> WebSocket<TcpStream> {
        self.socket
    }
}
