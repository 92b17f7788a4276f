use std::sync::Arc;

use sesame_kernel::{Page, UserId};
use sesame_messaging::{MessageEvent, MessagingError, MessagingService};
use sesame_testkit::{FakeClock, InMemoryMessages, InMemoryStore, RecordingNotifier};
use sesame_users::{AccountService, AccountSettings, BcryptHasher, Registration, User};

struct World {
    service: MessagingService,
    notifier: Arc<RecordingNotifier>,
    alice: User,
    bob: User,
    carol: User,
}

fn world() -> World {
    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(FakeClock::new());
    let accounts = AccountService::new(
        store.clone(),
        Arc::new(BcryptHasher::new(4).unwrap()),
        clock.clone(),
        AccountSettings::default(),
    );
    let user = |name: &str| {
        accounts
            .register(Registration {
                username: name.into(),
                password: "Xk92!dumbo-lamp".into(),
                ..Registration::default()
            })
            .unwrap()
    };
    let notifier = Arc::new(RecordingNotifier::new());
    World {
        service: MessagingService::new(
            Arc::new(InMemoryMessages::new()),
            store,
            notifier.clone(),
            clock,
        ),
        notifier,
        alice: user("alice"),
        bob: user("bob"),
        carol: user("carol"),
    }
}

#[test]
fn sending_stores_trimmed_content_and_tells_the_receiver() {
    let w = world();
    let message = w.service.send(&w.alice, w.bob.id, "  Bonjour !  ").unwrap();
    assert_eq!(message.content, "Bonjour !");
    assert_eq!(
        (message.sender_id, message.receiver_id),
        (w.alice.id, w.bob.id)
    );
    assert!(!message.is_read);
    assert_eq!(
        w.notifier.events(),
        vec![MessageEvent::New(message.clone())]
    );
    assert_eq!(w.notifier.events()[0].audience(), w.bob.id);
}

#[test]
fn content_must_be_1_to_5000_characters_after_trimming_and_show_something() {
    let w = world();
    for bad in ["", "   \n\t ", "\u{200B}", " \u{200D}\u{FEFF} "] {
        assert!(matches!(
            w.service.send(&w.alice, w.bob.id, bad),
            Err(MessagingError::InvalidContent(_))
        ));
    }
    let longest = "é".repeat(5000);
    assert!(w
        .service
        .send(&w.alice, w.bob.id, &format!("  {longest}  "))
        .is_ok());
    assert!(matches!(
        w.service.send(&w.alice, w.bob.id, &format!("{longest}x")),
        Err(MessagingError::InvalidContent(_))
    ));
    assert_eq!(w.notifier.events().len(), 1);
}

#[test]
fn the_receiver_must_exist() {
    let w = world();
    assert!(matches!(
        w.service.send(&w.alice, UserId(999), "hello"),
        Err(MessagingError::ReceiverNotFound)
    ));
    assert!(w.notifier.events().is_empty());
}

#[test]
fn only_the_receiver_marks_read_and_twice_is_harmless() {
    let w = world();
    let message = w.service.send(&w.alice, w.bob.id, "hi").unwrap();
    for outsider in [&w.alice, &w.carol] {
        assert!(matches!(
            w.service.mark_read(outsider, message.id),
            Err(MessagingError::MessageNotFound)
        ));
    }
    assert!(matches!(
        w.service.mark_read(&w.bob, 12345),
        Err(MessagingError::MessageNotFound)
    ));
    let read = w.service.mark_read(&w.bob, message.id).unwrap();
    assert!(read.is_read);
    let again = w.service.mark_read(&w.bob, message.id).unwrap();
    assert!(again.is_read);
    let receipts: Vec<_> = w
        .notifier
        .events()
        .into_iter()
        .filter(|e| matches!(e, MessageEvent::Read(_)))
        .collect();
    assert_eq!(
        receipts.len(),
        1,
        "the sender hears about the first read only"
    );
    assert_eq!(receipts[0].audience(), w.alice.id);
}

#[test]
fn inboxes_are_newest_first_paged_and_counted() {
    let w = world();
    for i in 0..5 {
        w.service
            .send(&w.alice, w.bob.id, &format!("m{i}"))
            .unwrap();
    }
    w.service.send(&w.carol, w.bob.id, "from carol").unwrap();
    w.service.send(&w.bob, w.alice.id, "reply").unwrap();
    let received = w.service.received(&w.bob, Page::default()).unwrap();
    let contents: Vec<_> = received.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["from carol", "m4", "m3", "m2", "m1", "m0"]);
    let page = w
        .service
        .received(&w.bob, Page::new(Some(1), Some(2)))
        .unwrap();
    assert_eq!(
        page.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        ["m4", "m3"]
    );
    let sent = w.service.sent(&w.alice, Page::default()).unwrap();
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[0].content, "m4");
    assert_eq!(w.service.unread_count(&w.bob).unwrap(), 6);
    w.service.mark_read(&w.bob, received[0].id).unwrap();
    assert_eq!(w.service.unread_count(&w.bob).unwrap(), 5);
    assert_eq!(w.service.unread_count(&w.alice).unwrap(), 1);
}
